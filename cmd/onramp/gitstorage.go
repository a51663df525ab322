package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/onramp/onramp/store"
)

// storageIDFile, in the built-in Git server's root, names the storage the
// repositories are on: processes that see the same file share the storage.
const storageIDFile = "onramp-storage-id"

// gitStorageID returns the ID of the storage under root, creating it the
// first time. Two processes creating it at once on shared storage agree:
// the file appears whole (a link of a written file) or not at all, and
// the one that loses reads the winner's.
func gitStorageID(root string) (string, error) {
	path := filepath.Join(root, storageIDFile)
	if id, err := readStorageID(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("git storage: %w", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	tmp, err := os.CreateTemp(root, ".storage-id-*")
	if err != nil {
		return "", fmt.Errorf("git storage: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(b) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("git storage: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("git storage: %w", err)
	}
	return readStorageID(path)
}

func readStorageID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", fmt.Errorf("git storage: %s is empty: remove it and start again", path)
	}
	return id, nil
}

// claimGitStorage refuses to start a process whose built-in Git server
// keeps its repositories on other storage than a live peer's: each would
// create repositories the other cannot serve, and Flux, cloning through
// one Service, would find some missing.
func (a *App) claimGitStorage(ctx context.Context, q *store.Queue, root string) error {
	id, err := gitStorageID(root)
	if err != nil {
		return err
	}
	var c *store.GitStorageConflict
	if err := q.ClaimGitStorage(ctx, id); errors.As(err, &c) {
		return fmt.Errorf("another onramp process on this database (%s) keeps the built-in Git server's repositories on other storage "+
			"than this one's (%s, storage %s; theirs %s): replicas must share them. Give every replica one shared volume "+
			"for its data dir (ReadWriteMany; the chart's persistence.accessModes), or put the repositories on a Git provider: "+
			"ONRAMP_GIT_PROVIDER_KIND, _URL, _OWNER and _TOKEN (the chart's gitProvider) for every project, or per user "+
			"`onramp git connect` (docs/gitproviders.md)", c.Process, root, id, c.Storage)
	} else if err != nil {
		return err
	}
	a.Logger.Debug("git storage", "root", root, "id", id)
	return nil
}

package localcluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tailBytes bounds how much of a log file is read to find its last lines.
const tailBytes = 256 << 10

// Logs returns the last n lines of every component's log, each under a header
// naming the file; tests print it when they fail.
func (c *Cluster) Logs(n int) string {
	return TailLogs(c.dataDir, n)
}

// TailLogs returns the last n lines of every component log in
// dataDir/logs, for failure output when no Cluster is at hand (Start failed).
func TailLogs(dataDir string, n int) string {
	var b strings.Builder
	for _, name := range componentNames() {
		path := filepath.Join(dataDir, "logs", name+".log")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		fmt.Fprintf(&b, "==> %s (last %d lines) <==\n%s\n", path, n, tailFile(path, n))
	}
	return b.String()
}

// tailFile returns the last n lines of the file at path, or a note saying why
// it could not be read.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	start := max(fi.Size()-tailBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logMentionsPortInUse reports whether a component failed because another
// process took one of its ports between allocation and bind.
func logMentionsPortInUse(path string) bool {
	return strings.Contains(tailFile(path, 50), "address already in use")
}

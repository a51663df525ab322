package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/secrets"
)

// A job left running by a process that stopped beating is handed back by
// another process, available at once, with an error saying why; a job
// whose process still beats is left alone.
func TestHandBackJobsOfStoppedProcess(t *testing.T) {
	urls := map[string]string{SQLite: "sqlite://" + t.TempDir() + "/onramp.db"}
	if _, q := testPostgresMaybe(t); q != "" {
		urls[Postgres] = q
	}
	for engine, url := range urls {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openMigrated(t, url)
			block, started := make(chan struct{}), make(chan int64, 1)
			workers := river.NewWorkers()
			river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[onramp.InitializeJob]) error {
				started <- job.ID
				select {
				case <-block:
				case <-ctx.Done():
				}
				return nil
			}))
			a, err := OpenQueue(ctx, db, QueueOptions{Workers: workers, MaxWorkers: 1, Poll: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer func() {
				close(block) // the job ends, so that the queue can stop
				_ = a.Client.Stop(context.Background())
			}()
			p := &onramp.Project{Name: "orphan", Template: "web-service", Environments: []onramp.Environment{{Name: "dev", Type: onramp.Development, Namespace: "orphan-dev", Path: "./"}}}
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				t.Fatal(err)
			}
			id := <-started
			b, err := OpenQueue(ctx, db, QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			time.Sleep(deadAfter + time.Second)
			if n, err := b.handBack(ctx); err != nil || n != 0 {
				t.Fatalf("handBack while the holder beats = %d, %v; want 0", n, err)
			}
			a.stopBeat() // as a killed process: no more beats
			if n, err := b.handBack(ctx); err != nil || n != 1 {
				t.Fatalf("handBack of a stopped process's job = %d, %v; want 1", n, err)
			}
			job, err := b.JobGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if job.State != rivertype.JobStateAvailable && job.State != rivertype.JobStateRunning {
				t.Errorf("job after the hand-back: %s; want available (or running again)", job.State)
			}
			if len(job.Errors) == 0 || !strings.Contains(job.Errors[len(job.Errors)-1].Error, "stopped") {
				t.Errorf("job errors %+v; want one saying its process stopped", job.Errors)
			}
		})
	}
}

// openMigrated opens url, migrated, with a cipher.
func openMigrated(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if db.Cipher, err = secrets.New(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	return db
}

// testPostgresMaybe returns, when ONRAMP_TEST_POSTGRES_URL is set, a URL
// of a fresh schema of that database, dropped when the test ends.
func testPostgresMaybe(t *testing.T) (*DB, string) {
	t.Helper()
	base := os.Getenv("ONRAMP_TEST_POSTGRES_URL")
	if base == "" {
		return nil, ""
	}
	db, err := Open(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("t_workers_%d", time.Now().UnixNano())
	if _, err := db.db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return db, base + sep + "search_path=" + schema
}

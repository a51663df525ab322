package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// failingInserter inserts the job for real, then fails, so the transaction
// that wrote the project and the job rolls back.
type failingInserter struct {
	store.JobClient
	jobID int64
}

func (f *failingInserter) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := f.JobClient.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, err
	}
	f.jobID = res.Job.ID
	return nil, errors.New("injected failure after the job insert")
}

func TestTransactionalEnqueue(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		// Committed: the project and its job exist together.
		p := newProject("committed")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil || len(jobs.Jobs) != 1 {
			t.Fatalf("jobs after create = %v, %v; want 1", jobs, err)
		}
		// Rolled back: neither exists.
		f := &failingInserter{JobClient: queue}
		db.Jobs = f
		if err := db.CreateProject(ctx, "alice", newProject("rolled")); err == nil {
			t.Fatal("CreateProject succeeded; want the injected failure")
		}
		db.Jobs = queue
		if f.jobID == 0 {
			t.Fatal("the job was never inserted")
		}
		if _, err := db.FindProject(ctx, "alice", "rolled"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("project after rollback: err = %v; want not found", err)
		}
		if _, err := queue.JobGet(ctx, f.jobID); !errors.Is(err, rivertype.ErrNotFound) {
			t.Errorf("job %d after rollback: err = %v; want not found", f.jobID, err)
		}
	})
}

// A retry asked while an earlier run may still be finishing is a job of its
// own: it must not be dropped as a duplicate.
func TestRetriesAreNotDropped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("twice")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "finalize", Progress: 100})
		db.ChangePhase(ctx, p.ID, onramp.PhaseProvisioned, onramp.PhaseDegraded)
		for range 2 {
			if _, err := db.RequestRetry(ctx, "alice", "twice"); err != nil {
				t.Fatal(err)
			}
		}
		jobs, err := db.Jobs.(*store.Queue).JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil || len(jobs.Jobs) != 3 {
			t.Errorf("initialize jobs = %d (%v); want the creation's and one per retry", len(jobs.Jobs), err)
		}
	})
}

// An initializing project can be retried only once its initialization job
// has ended without recording an end (here cancelled; in production, its
// worker's process lost on the last attempt): it then resumes, with a log
// line saying why.
func TestRetryResumesALostInitialization(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		p := newProject("lost")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Fatalf("retry while the initialization job waits: err = %v; want conflict", err)
		}
		live := river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()).States(rivertype.JobStateAvailable)
		jobs, err := queue.JobList(ctx, live)
		if err != nil || len(jobs.Jobs) != 1 {
			t.Fatalf("waiting initialize jobs = %v, %v; want 1", jobs, err)
		}
		if _, err := queue.JobCancel(ctx, jobs.Jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.RequestRetry(ctx, "alice", "lost")
		if err != nil || got.Phase != onramp.PhaseInitializing {
			t.Fatalf("retry after the job ended = %+v, %v; want initializing again", got, err)
		}
		if jobs, err = queue.JobList(ctx, live); err != nil || len(jobs.Jobs) != 1 {
			t.Errorf("waiting initialize jobs after the retry = %v, %v; want 1", jobs, err)
		}
		logs, _ := db.ProjectLogs(ctx, "alice", "lost", 0)
		if len(logs) != 1 || logs[0].Level != "warn" || !strings.Contains(logs[0].Message, "resuming") {
			t.Errorf("log = %+v; want one warning that the initialization resumes", logs)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("second retry while the new job waits: err = %v; want conflict", err)
		}
	})
}

// An initializing project whose job has ended (here cancelled) is failed
// by the sweep at the step it stopped in, with the retry that resumes it;
// one whose job still waits is left alone.
func TestFailLostInitializations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		lost, waiting := newProject("lost"), newProject("waiting")
		mustCreate(t, db, lost, waiting)
		if _, err := db.FinishStep(ctx, lost.ID, onramp.StepDone{Step: "render_template", Progress: 5, Next: "create_repository"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs.Jobs {
			var args onramp.InitializeJob
			if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
				t.Fatal(err)
			}
			if args.ProjectID == lost.ID {
				if _, err := queue.JobCancel(ctx, j.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n, err := db.FailLostInitializations(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("sweep of projects quiet for an hour = %d, %v; want 0", n, err)
		}
		if n, err := db.FailLostInitializations(ctx, 0); err != nil || n != 1 {
			t.Fatalf("sweep = %d, %v; want 1", n, err)
		}
		got, _ := db.ProjectByID(ctx, lost.ID)
		s := got.Steps[1]
		if got.Phase != onramp.PhaseFailed || s.Name != "create_repository" || s.Status != onramp.StepFailed ||
			!strings.Contains(s.Error, "ended without recording an end") || !strings.Contains(s.Hint, "onramp project retry lost") {
			t.Errorf("lost project after the sweep: %s, step %+v; want failed at create_repository with the retry hint", got.Phase, s)
		}
		if got, _ := db.ProjectByID(ctx, waiting.ID); got.Phase != onramp.PhaseInitializing {
			t.Errorf("project whose job waits: %s; want initializing", got.Phase)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); err != nil {
			t.Fatal(err)
		}
		if n, err := db.FailLostInitializations(ctx, 0); err != nil || n != 0 {
			t.Errorf("sweep after the retry = %d, %v; want 0 (its job waits)", n, err)
		}
	})
}

// startWorkers starts a queue on db whose initialization worker reports
// each project it is given, with the workers' own poll set to 2 s. It has
// more workers than the tests run jobs at once, as onramp has: with every
// worker busy, River looks for more jobs as soon as one is free, which
// would hide a job it was not told about. The
// returned stop fails the test if the queue does not stop within 10 s.
func startWorkers(t testing.TB, db *store.DB) (ran <-chan int64, stop func()) {
	t.Helper()
	runs := make(chan int64, 4)
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[onramp.InitializeJob]) error {
		runs <- job.Args.ProjectID
		return nil
	}))
	q, err := store.OpenQueue(context.Background(), db, store.QueueOptions{Workers: workers, MaxWorkers: 4, Poll: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the workers' first look at start
	return runs, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop the queue: %v", err)
		}
	}
}

// BenchmarkEnqueueToStart measures a project's create → its initialization
// job running in a worker of the same process, with the queue idle when
// the project is created (as a create usually finds it): between
// creates, the previous job completes and the workers' own look for more
// work after it is over.
func BenchmarkEnqueueToStart(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			ran, stop := startWorkers(b, db)
			defer stop()
			i := 0
			var cr time.Duration
			defer func() { b.ReportMetric(float64(cr.Microseconds())/float64(i), "create-us") }()
			for b.Loop() {
				i++
				t0 := time.Now()
				if err := db.CreateProject(context.Background(), "alice", newProject(fmt.Sprintf("bench%d", i))); err != nil {
					b.Fatal(err)
				}
				cr += time.Since(t0)
				<-ran
				b.StopTimer()
				time.Sleep(100 * time.Millisecond)
				b.StartTimer()
			}
		})
	}
}

package main

// Benchmarks of the API and the store: a real `onramp serve` in this
// process, b.Loop around each batch of requests. They print figures with
// b.ReportMetric and b.Logf and assert none of them. The end-to-end
// measurements against a cluster are cmd/onramp-bench's.
//
//	go test -run '^$' -bench NAME -timeout 30m ./cmd/onramp/
//
// (PostgreSQL sub-benchmarks run when ONRAMP_TEST_POSTGRES_URL is set.)

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
)

// ---------------------------------------------------------------------------
// The API and the store.

// BenchmarkCreateProjectAPI posts 1,000 three-environment projects through the
// API, one client at a time and then 8 at once, on each engine. Every create
// is the real transaction: project, environments, steps, event and the River
// job. The server runs with --workers 1: its one worker runs the enqueued
// initializations in the background (render, commit, then fail at
// setup_gitops for want of a cluster), so that work competes with the API
// for the two cores, as it would in production, but it does not swamp it.
func BenchmarkCreateProjectAPI(b *testing.B) {
	const creates = 1000
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			s := startMain(b, "serve", storetest.URL(b, engine), nil, "--workers", "1")
			tok := s.token(b, "alice")
			for _, clients := range []int{1, 8} {
				b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
					var lat []time.Duration
					var elapsed time.Duration
					for b.Loop() {
						l, e := benchCreateMany(b, s.url, tok, creates, clients)
						lat, elapsed = append(lat, l...), elapsed+e
					}
					b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "creates/s")
					benchReportLatency(b, "", lat, 0.50, 0.99)
					var done, total int
					s.app.DB.SQL().QueryRow(`SELECT count(*) FROM river_job WHERE state IN ('completed', 'cancelled', 'discarded')`).Scan(&done)
					s.app.DB.SQL().QueryRow(`SELECT count(*) FROM river_job`).Scan(&total)
					b.Logf("%s, %d clients: %d creates in %s: %.0f/s, p50 %s, p99 %s, max %s; the background worker had finished %d of the %d jobs enqueued so far",
						engine, clients, len(lat), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(), benchPct(lat, 0.5), benchPct(lat, 0.99), benchPct(lat, 1), done, total)
				})
			}
		})
	}
}

// benchCreateMany posts n projects from `clients` goroutines and returns
// each request's latency and the wall time of the whole batch.
func benchCreateMany(b *testing.B, base, tok string, n, clients int) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, n)
	batch := uniqueName("c") // names unique by construction: random ones collide in thousands
	start := time.Now()
	benchParallel(b, clients, n, func(i int) error {
		t0 := time.Now()
		code, err := benchDo(context.Background(), "POST", base+"/api/v1/projects", tok, threeEnvs(fmt.Sprintf("%s-%d", batch, i), "web-service"), nil)
		lat[i] = time.Since(t0)
		if err == nil && code != http.StatusAccepted {
			err = fmt.Errorf("create = %d; want 202", code)
		}
		return err
	})
	return lat, time.Since(start)
}

// BenchmarkReadProjects stores 10,000 three-environment projects of one
// owner through the store (not HTTP), the newest 50 of them with the 18
// recorded resources of a provisioned project, and then measures
// GET /api/v1/projects/{name} on random projects and every page of the list
// (?limit=50, following next_cursor through all 10,000), one client.
func BenchmarkReadProjects(b *testing.B) {
	const projects, rich = 10_000, 50
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			url := storetest.URL(b, engine)
			names, seeded := benchSeedProjects(b, url, "alice", projects, rich)
			s := startMain(b, "serve", url, nil)
			tok := s.token(b, "alice")
			api := s.url + "/api/v1/projects"
			b.Run("get", func(b *testing.B) {
				const gets = 3000
				var lat []time.Duration
				for b.Loop() {
					for i := range gets {
						name := names[rand.IntN(len(names))]
						if i%10 == 0 {
							name = names[len(names)-1-rand.IntN(rich)] // one with resources
						}
						t0 := time.Now()
						if code, err := benchDo(context.Background(), "GET", api+"/"+name, tok, nil, nil); err != nil || code != 200 {
							b.Fatalf("GET %s = %d %v", name, code, err)
						}
						lat = append(lat, time.Since(t0))
					}
				}
				benchReportLatency(b, "", lat, 0.50, 0.99)
				b.Logf("%s: %s", engine, seeded)
				b.Logf("%s: GET project with %d stored: %d requests, p50 %s, p99 %s, max %s", engine, projects, len(lat), benchPct(lat, .5), benchPct(lat, .99), benchPct(lat, 1))
			})
			b.Run("list", func(b *testing.B) {
				const walks = 5
				var lat []time.Duration
				for b.Loop() {
					for range walks {
						cursor, seen := "", 0
						for {
							var page struct {
								Projects   []json.RawMessage `json:"projects"`
								NextCursor string            `json:"next_cursor"`
							}
							t0 := time.Now()
							code, err := benchDo(context.Background(), "GET", api+"?limit=50&cursor="+cursor, tok, nil, &page)
							lat = append(lat, time.Since(t0))
							if err != nil || code != 200 {
								b.Fatalf("list = %d %v", code, err)
							}
							seen += len(page.Projects)
							if cursor = page.NextCursor; cursor == "" {
								break
							}
						}
						if seen != projects {
							b.Fatalf("walked %d projects; want %d", seen, projects)
						}
					}
				}
				benchReportLatency(b, "", lat, 0.50, 0.99)
				b.Logf("%s: list pages of 50 over %d projects: %d requests, p50 %s, p99 %s, max %s", engine, projects, len(lat), benchPct(lat, .5), benchPct(lat, .99), benchPct(lat, 1))
			})
		})
	}
}

// benchSeedProjects stores n projects of owner straight through the store,
// gives the newest `rich` of them the 18 resources of a provisioned
// three-environment project, and deletes their initialization jobs so that
// no worker runs 10,000 initializations behind the measurement. It returns
// the names, oldest first, and a line saying how long seeding took.
func benchSeedProjects(b *testing.B, url, owner string, n, rich int) ([]string, string) {
	b.Helper()
	ctx := context.Background()
	db := storetest.OpenURL(b, url)
	reg, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := reg.FindTemplate("web-service")
	if err != nil {
		b.Fatal(err)
	}
	prefix := uniqueName("seed")
	names := make([]string, n)
	start := time.Now()
	// Sequential on purpose: IDs (the list order) follow the names.
	for i := range names {
		names[i] = fmt.Sprintf("%s-%05d", prefix, i)
		p, err := onramp.NewProject(onramp.ProjectCreate{Name: names[i], Template: "web-service", Environments: benchEnvs(3)}, tmpl)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateProject(ctx, owner, p); err != nil {
			b.Fatalf("seed %s: %v", names[i], err)
		}
		if i >= n-rich {
			for _, e := range p.Environments {
				for _, kind := range []string{onramp.KindNamespace, onramp.KindServiceAccount, onramp.KindRoleBinding, onramp.KindSecret, onramp.KindGitRepository, onramp.KindKustomization} {
					r := onramp.Resource{Kind: kind, Name: p.Name, Namespace: e.Namespace, Environment: e.Name, Status: onramp.StatusReady,
						Reason: "ReconciliationSucceeded", Message: "Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567",
						Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", ObservedGeneration: 1, ObservedAt: time.Now()}
					if _, err := db.UpsertResources(ctx, p.ID, r); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	if _, err := db.SQL().Exec(`DELETE FROM river_job`); err != nil {
		b.Fatalf("delete seeded jobs: %v", err)
	}
	seeded := time.Since(start)
	if db.Engine() == store.Postgres {
		// Fresh statistics, as autovacuum would gather within a minute or
		// two of such growth. Without them the planner still believes the
		// tables tiny: it sorts every row of the owner for a page and scans
		// steps sequentially, and a list page takes ~15 ms instead of ~3.
		if _, err := db.SQL().Exec(`ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	return names, fmt.Sprintf("seeded %d projects (%d with 18 resources) through the store in %s (%.0f/s)", n, rich, seeded.Round(time.Millisecond), float64(n)/seeded.Seconds())
}

// ---------------------------------------------------------------------------
// Helpers.

// benchHTTP keeps enough idle connections for concurrent clients.
var benchHTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}

// benchDo sends a JSON request and decodes the answer into out; unlike
// call it returns errors, so goroutines may use it.
func benchDo(ctx context.Context, method, url, token string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = strings.NewReader(string(data))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, url, err)
		}
	}
	return resp.StatusCode, nil
}

// benchPct returns the q-quantile of d (nearest rank; 0 is the minimum,
// 1 the maximum).
func benchPct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// benchReportLatency reports quantiles of lat in milliseconds.
func benchReportLatency(b *testing.B, prefix string, lat []time.Duration, qs ...float64) {
	for _, q := range qs {
		label := "p" + strconv.Itoa(int(q*100))
		if q == 1 {
			label = "max"
		}
		b.ReportMetric(float64(benchPct(lat, q))/1e6, prefix+label+"-ms")
	}
}

// benchEnvs returns the first n of development, staging, production.
func benchEnvs(n int) []onramp.EnvironmentSpec {
	all := []onramp.EnvironmentSpec{{Name: "development", Type: onramp.Development}, {Name: "staging", Type: onramp.Staging}, {Name: "production", Type: onramp.Production}}
	return all[:n]
}

// benchParallel runs fn(0..n-1) on `workers` goroutines and fails b with
// the first error.
func benchParallel(b *testing.B, workers, n int, fn func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

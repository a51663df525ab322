package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/store"
)

// measurement is one burst against one server.
type measurement struct {
	options
	bin     string // the onramp binary
	dir     string // this run's temporary dir
	srv     *server
	cluster *localcluster.Cluster
	reached [2]int // projects at 100% and Ready at the last look
}

// run submits the burst, follows it to the end and returns the report.
func (m *measurement) run(ctx context.Context) (string, error) {
	db, err := store.Open(ctx, m.srv.databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	procs := m.processes()
	cpu0 := cpuTimes(procs)
	names := make([]string, m.n)
	for i := range names {
		names[i] = fmt.Sprintf("b%04d-%06x", i, rand.Uint32()&0xffffff)
	}
	fmt.Printf("submitting %d projects × 3 environments (%s)…\n", m.n, m.template)
	start := time.Now()
	if err := m.submit(ctx, names); err != nil {
		return "", err
	}
	submitted := time.Since(start)
	probe := m.probeReads(ctx, names)
	var at100, atReady time.Duration
	var peak int
	var stopped error // the time given ran out: report what was reached
	for stopped == nil && (at100 == 0 || (m.ready && atReady == 0)) {
		select {
		case <-ctx.Done():
			stopped = ctx.Err()
			continue
		case <-time.After(200 * time.Millisecond):
		}
		peak = max(peak, rssKiB(procs["onramp"]))
		done, ready, failed, err := counts(ctx, db)
		m.reached = [2]int{done, ready}
		if err != nil {
			return "", err
		}
		if failed > 0 {
			return "", fmt.Errorf("%d projects failed: see `onramp project get` on %s", failed, m.srv.url)
		}
		if done == m.n && at100 == 0 {
			at100 = time.Since(start)
			fmt.Printf("all at 100%% after %s\n", at100.Round(time.Millisecond))
		}
		if ready == m.n && atReady == 0 {
			atReady = time.Since(start)
		}
	}
	latencies := probe()
	cpu := cpuTimes(procs)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d projects × 3 environments (%s) submitted in %s\n", m.n, m.template, submitted.Round(time.Millisecond))
	if stopped != nil {
		fmt.Fprintf(&b, "  stopped after %s: %d at 100%%, %d Ready\n", time.Since(start).Round(time.Second), m.reached[0], m.reached[1])
	}
	if at100 > 0 {
		fmt.Fprintf(&b, "  all at 100%%: %s (%.1f projects/s)\n", at100.Round(time.Millisecond), float64(m.n)/at100.Seconds())
	}
	if atReady > 0 {
		fmt.Fprintf(&b, "  all Ready:   %s\n", atReady.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  onramp peak RSS: %d MiB\n", max(peak, hwmKiB(procs["onramp"]))/1024)
	fmt.Fprintf(&b, "  GET /api/v1/projects/{name} during the burst: %d reads, p50 %s, p99 %s\n",
		len(latencies), pct(latencies, .5), pct(latencies, .99))
	fmt.Fprintf(&b, "  CPU seconds:")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range procs {
			if !yield(n) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " %s %.1f", name, (cpu[name] - cpu0[name]).Seconds())
	}
	b.WriteString("\n")
	return b.String(), stopped
}

// submit posts every project at once, 32 requests at a time.
func (m *measurement) submit(ctx context.Context, names []string) error {
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body, _ := json.Marshal(projectBody(name, m.template, "development", "staging", "production"))
			code, err := m.do(ctx, "POST", "/api/v1/projects", body)
			if err == nil && code != http.StatusAccepted {
				err = fmt.Errorf("create %s: %d", name, code)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *measurement) do(ctx context.Context, method, path string, body []byte) (int, error) {
	return m.call(ctx, method, path, body, nil)
}

// call sends a request to the server and decodes a successful answer
// into out, unless out is nil.
func (m *measurement) call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.srv.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+m.srv.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// probeReads reads a random project every 20 ms until the returned
// function is called, which returns the reads' latencies.
func (m *measurement) probeReads(ctx context.Context, names []string) func() []time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			t0 := time.Now()
			if code, err := m.do(ctx, "GET", "/api/v1/projects/"+names[rand.IntN(len(names))], nil); err == nil && code == http.StatusOK {
				lat = append(lat, time.Since(t0))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() []time.Duration {
		cancel()
		<-done
		return lat
	}
}

// counts are how many projects are at 100%, ready and failed.
func counts(ctx context.Context, db *store.DB) (done, ready, failed int, err error) {
	err = db.SQL().QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN progress = 100 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN phase = 'ready' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN phase = 'failed' THEN 1 ELSE 0 END), 0) FROM projects`).Scan(&done, &ready, &failed)
	return done, ready, failed, err
}

// processes are the PIDs of onramp and of the control plane's components.
func (m *measurement) processes() map[string]int {
	procs := map[string]int{"onramp": m.srv.cmd.Process.Pid}
	for _, c := range m.cluster.Components() {
		procs[c.Name] = c.PID
	}
	return procs
}

// cpuTimes reads each process's user and system CPU time from /proc.
func cpuTimes(procs map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th, in clock ticks (100 a second).
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.Atoi(f[11])
		s, _ := strconv.Atoi(f[12])
		out[name] = time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}

func rssKiB(pid int) int { return procStatus(pid, "VmRSS:") }
func hwmKiB(pid int) int { return procStatus(pid, "VmHWM:") }

func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

// measurement is one measurement against one server or several replicas.
type measurement struct {
	options
	bin     string // the onramp binary
	dir     string // this run's temporary dir
	srv     *server
	srvs    []*server // srv and the other replicas
	cluster *localcluster.Cluster
	reached [2]int // projects at 100% and Ready at the last look
}

// run submits the burst, follows it to the end, measures the floor and
// returns the report.
func (m *measurement) run(ctx context.Context) (string, error) {
	db, err := store.Open(ctx, m.srv.databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	procs := m.processes()
	cpu0 := m.cpu(procs)
	names := make([]string, m.n)
	for i := range names {
		names[i] = fmt.Sprintf("b%04d-%06x", i, rand.Uint32()&0xffffff)
	}
	fmt.Printf("submitting %d projects × 3 environments (%s) to %d onramp process(es)…\n", m.n, m.template, len(m.srvs))
	start := time.Now()
	if err := m.submit(ctx, names); err != nil {
		return "", err
	}
	submitted := time.Since(start)
	probe := m.probeReads(ctx, names)
	var at100, atReady time.Duration
	peak := map[string]int{}
	shown := time.Now()
	var stopped error // the time given ran out: report what was reached
	for stopped == nil && (at100 == 0 || (m.ready && atReady == 0)) {
		select {
		case <-ctx.Done():
			stopped = ctx.Err()
			continue
		case <-time.After(200 * time.Millisecond):
		}
		for name, pid := range procs {
			if strings.HasPrefix(name, "onramp") {
				peak[name] = max(peak[name], rssKiB(pid))
			}
		}
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
		if time.Since(shown) > 30*time.Second {
			fmt.Printf("%d at 100%%, %d Ready after %s\n", done, ready, time.Since(start).Round(time.Second))
			shown = time.Now()
		}
	}
	latencies := probe()
	cpu := m.cpu(procs)
	var tracked int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM resources`).Scan(&tracked); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d projects × 3 environments (%s) submitted to %d onramp process(es) in %s\n",
		m.n, m.template, len(m.srvs), submitted.Round(time.Millisecond))
	if stopped != nil {
		fmt.Fprintf(&b, "  stopped after %s: %d at 100%%, %d Ready\n", time.Since(start).Round(time.Second), m.reached[0], m.reached[1])
	}
	if at100 > 0 {
		fmt.Fprintf(&b, "  all at 100%%: %s (%.1f projects/s)\n", at100.Round(time.Millisecond), float64(m.n)/at100.Seconds())
	}
	if atReady > 0 {
		fmt.Fprintf(&b, "  all Ready:   %s\n", atReady.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  peak RSS with %d objects tracked:", tracked)
	for _, name := range slices.Sorted(maps.Keys(peak)) {
		fmt.Fprintf(&b, " %s %d MiB", name, max(peak[name], hwmKiB(procs[name]))/1024)
	}
	fmt.Fprintf(&b, "\n  GET /api/v1/projects/{name} during the burst: %d reads, p50 %s, p99 %s\n",
		len(latencies), pct(latencies, .5), pct(latencies, .99))
	delta := map[string]time.Duration{}
	for name := range cpu {
		delta[name] = cpu[name] - cpu0[name]
	}
	fmt.Fprintf(&b, "  CPU seconds:%s\n", cpuLine(delta))
	if !m.floor || stopped != nil {
		return b.String(), stopped
	}
	fmt.Print(b.String())
	b.Reset()
	r, err := m.burstFloor(ctx, db, names, procs)
	if err != nil {
		return "", err
	}
	floorSummary(&b, r, m.n, at100, atReady)
	return b.String(), nil
}

// submit posts every project at once, 32 requests at a time, to each
// replica in turn.
func (m *measurement) submit(ctx context.Context, names []string) error {
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body, _ := json.Marshal(projectBody(name, m.template, "development", "staging", "production"))
			code, err := m.callAt(ctx, m.srvs[i%len(m.srvs)], "POST", "/api/v1/projects", body, nil)
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
	return m.callAt(ctx, m.srv, method, path, body, out)
}

// callAt is call to the server s.
func (m *measurement) callAt(ctx context.Context, s *server, method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
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

// probeReads reads a random project from a random replica every 20 ms
// until the returned function is called, which returns the reads'
// latencies.
func (m *measurement) probeReads(ctx context.Context, names []string) func() []time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			t0 := time.Now()
			s := m.srvs[rand.IntN(len(m.srvs))]
			if code, err := m.callAt(ctx, s, "GET", "/api/v1/projects/"+names[rand.IntN(len(names))], nil, nil); err == nil && code == http.StatusOK {
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

// processes are the PIDs of onramp (onramp-1, onramp-2, … with replicas),
// of the control plane's components and of this program, "client" (the
// burst's requests; the floor's applies).
func (m *measurement) processes() map[string]int {
	procs := map[string]int{"client": os.Getpid()}
	for i, s := range m.srvs {
		name := "onramp"
		if len(m.srvs) > 1 {
			name = fmt.Sprintf("onramp-%d", i+1)
		}
		procs[name] = s.cmd.Process.Pid
	}
	for _, c := range m.cluster.Components() {
		procs[c.Name] = c.PID
	}
	return procs
}

// cpu is the CPU time each of procs has used, and PostgreSQL's when the
// measurement runs on it.
func (m *measurement) cpu(procs map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range procs {
		if st, err := readStat(pid); err == nil {
			out[name] = st.cpu
		}
	}
	if strings.HasPrefix(m.srv.databaseURL, "postgres") {
		out["postgres"] = postgresCPU()
	}
	return out
}

// stat is what this program reads of /proc/PID/stat.
type stat struct {
	comm     string
	ppid     int
	cpu      time.Duration // user and system
	children time.Duration // of the children that ended and were waited for
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	// "PID (COMM) STATE PPID …": utime, stime, cutime and cstime are the
	// 14th to 17th fields, in clock ticks (100 a second).
	head, rest, _ := strings.Cut(string(b), ") ")
	_, comm, _ := strings.Cut(head, " (")
	f := strings.Fields(rest)
	if len(f) < 15 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := func(i int) int { v, _ := strconv.Atoi(f[i]); return v }
	tick := 10 * time.Millisecond
	return stat{comm: comm, ppid: n(1), cpu: time.Duration(n(11)+n(12)) * tick, children: time.Duration(n(13)+n(14)) * tick}, nil
}

// postgresCPU is the CPU time of every PostgreSQL process on this
// machine: the live ones' own, and the ended backends' as their parent,
// the postmaster, counts it.
func postgresCPU() time.Duration {
	entries, _ := os.ReadDir("/proc")
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.comm != "postgres" {
			continue
		}
		total += st.cpu
		if parent, err := readStat(st.ppid); err == nil && parent.comm != "postgres" {
			total += st.children // the postmaster
		}
	}
	return total
}

// cpuLine is " name seconds" for each process, by name.
func cpuLine(cpu map[string]time.Duration) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(cpu)) {
		fmt.Fprintf(&b, " %s %.1f", name, cpu[name].Seconds())
	}
	return b.String()
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

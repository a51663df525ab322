package localcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/localcluster/clustertest"
)

// BenchmarkStartStop starts a cluster in a fresh data dir until every
// component is ready, then stops it. Run with -benchtime=3x: one iteration
// takes seconds.
func BenchmarkStartStop(b *testing.B) {
	binDir := clustertest.BinDir(b)
	var start, stop time.Duration
	var rss float64
	for range b.N {
		t0 := time.Now()
		c, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, DataDir: b.TempDir()})
		if err != nil {
			b.Fatalf("start: %v", err)
		}
		t1 := time.Now()
		rss += controlPlaneRSS(b, c)["total"]
		if err := c.Stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s/op")
	b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s/op")
	b.ReportMetric(rss/float64(b.N), "rss-at-ready-MB")
}

// BenchmarkRestart stops and starts a cluster on the same data dir, as
// `onramp dev` does across restarts.
func BenchmarkRestart(b *testing.B) {
	binDir := clustertest.BinDir(b)
	dataDir := b.TempDir()
	c, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, DataDir: dataDir})
	if err != nil {
		b.Fatalf("first start: %v", err)
	}
	var start time.Duration
	for range b.N {
		if err := c.Stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
		t0 := time.Now()
		if c, err = localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, DataDir: dataDir}); err != nil {
			b.Fatalf("restart: %v", err)
		}
		start += time.Since(t0)
	}
	if err := c.Stop(); err != nil {
		b.Fatalf("stop: %v", err)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "restart-s/op")
}

// BenchmarkKustomizationReady measures a GitRepository and a Kustomization
// created together until the Kustomization is Ready at the pushed revision,
// on the shared cluster, each iteration in a fresh namespace.
func BenchmarkKustomizationReady(b *testing.B) {
	c := newClient(b, clustertest.Config(b))
	server := clustertest.NewGitServer(b, "flux", "s3cret")
	repo := server.NewRepo(b, "app")
	revision := "main@sha1:" + repo.Push(b, appManifests("hello", true))
	var ready time.Duration
	for range b.N {
		ns := clustertest.Namespace(b)
		t0 := time.Now()
		createGitSource(b, c, ns, "app", repo.URL, "flux", "s3cret")
		ks := createKustomization(b, c, ns, "app", "./deploy")
		waitApplied(b, c, ks, revision)
		ready += time.Since(t0)
	}
	b.ReportMetric(ready.Seconds()/float64(b.N), "ready-s/op")
}

// BenchmarkControlPlaneRSS reports the resident memory of the shared
// cluster's processes, in total and per component.
func BenchmarkControlPlaneRSS(b *testing.B) {
	cluster := clustertest.Cluster(b)
	var rss map[string]float64
	for range b.N {
		rss = controlPlaneRSS(b, cluster)
	}
	for name, mb := range rss {
		b.ReportMetric(mb, name+"-MB")
	}
}

// controlPlaneRSS sums VmRSS from /proc/PID/status over the components, in MB,
// keyed by component name plus "total".
func controlPlaneRSS(tb testing.TB, c *localcluster.Cluster) map[string]float64 {
	tb.Helper()
	out := map[string]float64{}
	for _, comp := range c.Components() {
		kb, err := vmRSS(comp.PID)
		if err != nil {
			tb.Fatalf("read RSS of %s: %v", comp.Name, err)
		}
		out[comp.Name] = float64(kb) / 1024
		out["total"] += float64(kb) / 1024
	}
	return out
}

// vmRSS returns the VmRSS line of /proc/pid/status in kB.
func vmRSS(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

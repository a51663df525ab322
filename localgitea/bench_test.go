package localgitea_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/localgitea/giteatest"
)

// BenchmarkStart starts Gitea on a fresh data dir (migrate, admin, web) and
// stops it, reporting both and the resident memory once it is ready.
func BenchmarkStart(b *testing.B) {
	bin := giteatest.BinDir(b)
	var start, stop time.Duration
	var rss float64
	for range b.N {
		t0 := time.Now()
		g, err := localgitea.Start(context.Background(), localgitea.Options{BinDir: bin, DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		start += time.Since(t0)
		rss += residentMB(g.PID())
		t1 := time.Now()
		g.Stop()
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s/op")
	b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s/op")
	b.ReportMetric(rss/float64(b.N), "rss-MB")
}

// residentMB reads a process's resident memory from /proc, 0 if unknown.
func residentMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

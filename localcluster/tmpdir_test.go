package localcluster_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/localcluster/clustertest"
)

// kustomize-controller deletes every $TMPDIR/kustomization-* when it
// starts; each cluster's Flux controllers must have a TMPDIR of their own so
// that starting one cluster cannot break builds in another.
func TestFluxControllersHaveTheirOwnTmpdir(t *testing.T) {
	c := clustertest.Cluster(t)
	want := "TMPDIR=" + filepath.Join(c.DataDir(), "tmp")
	for _, comp := range c.Components() {
		if comp.Name != localcluster.SourceController && comp.Name != localcluster.KustomizeController {
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(comp.PID) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\x00"+string(env)+"\x00", "\x00"+want+"\x00") {
			t.Errorf("%s runs without %s", comp.Name, want)
		}
		if st, err := os.Stat(filepath.Join(c.DataDir(), "tmp")); err != nil || !st.IsDir() {
			t.Errorf("%s's TMPDIR does not exist: %v", comp.Name, err)
		}
	}
}

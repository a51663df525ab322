package deploy

import (
	"testing"

	"github.com/onramp/onramp/localcluster/clustertest"
)

// TestMain gives the tests that apply the chart one real kube-apiserver;
// rendering tests need none.
func TestMain(m *testing.M) { clustertest.Main(m) }

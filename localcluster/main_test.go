package localcluster_test

import (
	"testing"

	"github.com/onramp/onramp/localcluster/clustertest"
)

// TestMain runs the package's tests against one shared local cluster.
func TestMain(m *testing.M) { clustertest.Main(m) }

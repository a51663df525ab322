package cli_test

import (
	"testing"

	"github.com/onramp/onramp/localgitea/giteatest"
)

// TestMain shares one Gitea among the tests that connect to it.
func TestMain(m *testing.M) { giteatest.Main(m) }

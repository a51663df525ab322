package gitprovider_test

import (
	"testing"

	"github.com/onramp/onramp/localgitea/giteatest"
)

func TestMain(m *testing.M) { giteatest.Main(m) }

package tokenize

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

// TestMain initialises Beam. The pipeline tests run on the runner named by
// -runner (prism by default; `make test` runs them again with -runner=direct).
func TestMain(m *testing.M) { ptest.Main(m) }

// runner is the runner under test.
func runner() string {
	if r := *ptest.Runner; r != "" {
		return r
	}
	return ptest.DefaultRunner()
}

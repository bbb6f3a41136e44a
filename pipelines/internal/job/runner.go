package job

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow" // runner "dataflow"
	//lint:ignore SA1019 the direct runner is one of the two runners the jobs are tested on
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct" // runner "direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"  // runner "prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/pipelines/runners"
)

// Runners are the Beam runners a job can run on.
var Runners = runners.Names

// CheckRunner fills in the default runner (prism) and environment type, and
// checks the runner's name and options; options given that the runner does
// not use are logged as a warning.
func CheckRunner(name *string, o *runners.Options) error {
	unused, err := runners.Check(name, o)
	if err != nil {
		return err
	}
	if len(unused) > 0 {
		slog.Warn("runner options ignored: runner "+*name+" does not use them", "options", strings.Join(unused, ", "))
	}
	return nil
}

var (
	// beamOptions serialises the runs that use Beam's global options (its
	// flag variables), which SetBeamOptions sets for each run.
	beamOptions sync.Mutex
	// prismEndpoint is the embedded prism job server, once the prism
	// runner has started it (it stores it in jobopts.Endpoint).
	prismEndpoint string
)

// SetBeamOptions sets Beam's global options (jobopts, gcpopts and the
// Dataflow runner's flags) for a run on the named runner with o. Execute
// calls it, holding a lock for the whole run: every option a runner reads is
// set on every run, so one job's settings never leak into the next.
func SetBeamOptions(name string, o runners.Options) error {
	set := func(flagName, v string) error {
		if err := flag.Set(flagName, v); err != nil {
			return fmt.Errorf("setting Beam's --%s: %w", flagName, err)
		}
		return nil
	}
	// The embedded prism server, once started, serves every later prism
	// run; the other runners leave the endpoint as they found it.
	*jobopts.Endpoint, *jobopts.EnvironmentType, *jobopts.EnvironmentConfig = prismEndpoint, strings.ToLower(runners.Loopback), ""
	*jobopts.WorkerBinary, *jobopts.Async = "", false
	*gcpopts.Project, *gcpopts.Region = "", ""
	dataflow := map[string]string{"staging_location": "", "temp_location": "", "worker_machine_type": "", "num_workers": "0", "max_num_workers": "0"}
	switch name {
	case runners.Universal:
		*jobopts.Endpoint = o.JobEndpoint
		*jobopts.EnvironmentType = strings.ToLower(o.EnvironmentType)
		*jobopts.EnvironmentConfig = o.EnvironmentConfig
		*jobopts.WorkerBinary = o.WorkerBinary
	case runners.Dataflow:
		*jobopts.Endpoint, *jobopts.EnvironmentType = "", ""
		*jobopts.WorkerBinary = o.WorkerBinary
		*gcpopts.Project, *gcpopts.Region = o.Project, o.Region
		dataflow = map[string]string{"staging_location": o.StagingLocation, "temp_location": o.TempLocation, "worker_machine_type": o.WorkerMachineType,
			"num_workers": strconv.Itoa(o.NumWorkers), "max_num_workers": strconv.Itoa(o.MaxWorkers)}
	}
	for _, k := range []string{"staging_location", "temp_location", "worker_machine_type", "num_workers", "max_num_workers"} {
		if err := set(k, dataflow[k]); err != nil {
			return err
		}
	}
	return nil
}

// Execute runs pipe on the named runner with its options o and reads back
// its metrics (the committed values the runner reports, from the job server
// for universal and Dataflow).
func Execute(ctx context.Context, pipe *beam.Pipeline, name string, o runners.Options) (Metrics, time.Duration, error) {
	start := time.Now()
	retriesBefore := blob.ReadCounters().Retries
	var pr beam.PipelineResult
	err := func() error {
		if name == runners.Direct {
			var err error
			pr, err = beam.Run(ctx, name, pipe)
			return err
		}
		beamOptions.Lock()
		defer beamOptions.Unlock()
		if err := SetBeamOptions(name, o); err != nil {
			return err
		}
		var err error
		pr, err = beam.Run(ctx, name, pipe)
		if name == runners.Prism {
			prismEndpoint = *jobopts.Endpoint
		}
		return err
	}()
	if err != nil {
		where := name
		if name == runners.Universal {
			where += " (job server " + o.JobEndpoint + ", environment " + o.EnvironmentType + ")"
		}
		return Metrics{}, 0, fmt.Errorf("pipeline on runner %s: %w", where, err)
	}
	m := Metrics{Counters: map[string]int64{}, Distributions: map[string]Distribution{}}
	if pr != nil {
		res := pr.Metrics().AllMetrics()
		for _, c := range res.Counters() {
			m.Counters[c.Key.Name] += c.Committed
		}
		for _, d := range res.Distributions() {
			v, old := d.Committed, m.Distributions[d.Key.Name]
			if old.Count > 0 {
				v.Min, v.Max = min(v.Min, old.Min), max(v.Max, old.Max)
			}
			m.Distributions[d.Key.Name] = Distribution{Count: old.Count + v.Count, Sum: old.Sum + v.Sum, Min: v.Min, Max: v.Max}
		}
	}
	// Cloud Storage requests this process retried while the job ran (the
	// workers of in-process runners; a distributed runner's workers count
	// their own, which are not seen here).
	if n := blob.ReadCounters().Retries - retriesBefore; n > 0 {
		m.Counters["gcs_retries"] = n
	}
	elapsed := time.Since(start)
	slog.Info("job finished", "runner", name, "elapsed", elapsed)
	return m, elapsed, nil
}

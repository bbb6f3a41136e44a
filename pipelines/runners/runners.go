// Package runners names the Beam runners Minerva's jobs run on and checks the
// options each needs. It does not link Beam, so the YAML configs and the
// command line share it with the jobs; pipelines/internal/job hands the
// options to Beam.
//
//   - prism (default): Beam's prism runner, embedded in this process.
//   - direct: Beam's direct runner, in this process (for tests).
//   - universal: any portable job server — Flink's, Spark's or a separate
//     prism — at JobEndpoint (HOST:PORT). With the LOOPBACK environment
//     (the default) the SDK workers run in this process, so they read local
//     files and the local model like prism does; DOCKER, PROCESS and
//     EXTERNAL environments run them elsewhere, where inputs, the output
//     folder and the model must be reachable (gs:// paths) and a worker
//     binary or image is needed.
//   - dataflow: Google Cloud Dataflow in Project and Region, staging the
//     worker binary under a gs:// StagingLocation.
package runners

import (
	"errors"
	"fmt"
	"strings"
)

// The runner names.
const (
	Prism     = "prism"
	Direct    = "direct"
	Universal = "universal"
	Dataflow  = "dataflow"
)

// Names are the Beam runners a job can run on, the default first.
var Names = []string{Prism, Direct, Universal, Dataflow}

// The environment types of the universal runner: where the SDK workers run.
const (
	// Loopback runs the workers in the submitting process (they read its
	// local files and model).
	Loopback = "LOOPBACK"
	// Docker runs them in a container per worker (EnvironmentConfig: the
	// image; default Beam's Go SDK image).
	Docker = "DOCKER"
	// Process runs a worker binary on the job server's machines
	// (EnvironmentConfig: {"command": "/path/to/worker"}).
	Process = "PROCESS"
	// External connects to a running worker pool (EnvironmentConfig: its
	// HOST:PORT).
	External = "EXTERNAL"
)

// EnvironmentTypes are the universal runner's environment types.
var EnvironmentTypes = []string{Loopback, Docker, Process, External}

// Options configure the runners that submit to a job server or a cloud
// service; prism and direct need none. The YAML keys are those of
// configs/*.yaml, the command-line flags the same with dashes.
type Options struct {
	// JobEndpoint is the universal runner's job server, HOST:PORT.
	JobEndpoint string `yaml:"job_endpoint"`
	// EnvironmentType is where the universal runner's SDK workers run:
	// LOOPBACK (default), DOCKER, PROCESS or EXTERNAL.
	EnvironmentType string `yaml:"environment_type"`
	// EnvironmentConfig configures the environment: the DOCKER image, the
	// PROCESS command as JSON, or the EXTERNAL worker pool's address.
	EnvironmentConfig string `yaml:"environment_config"`
	// WorkerBinary is a linux worker binary of this program (built with
	// CGO_ENABLED=0) for Dataflow and for non-LOOPBACK environments; empty:
	// Beam cross-compiles the submitting program's main package with go build.
	WorkerBinary string `yaml:"worker_binary"`

	// Project and Region are the Dataflow job's Google Cloud project and
	// region.
	Project string `yaml:"project"`
	Region  string `yaml:"region"`
	// StagingLocation (gs://…, required) is where Dataflow stages the
	// worker binary and the pipeline; TempLocation (gs://…) its temporary
	// files (default: under StagingLocation).
	StagingLocation string `yaml:"staging_location"`
	TempLocation    string `yaml:"temp_location"`
	// WorkerMachineType is the workers' Compute Engine machine type, e.g.
	// n2-standard-8 (default: Dataflow's).
	WorkerMachineType string `yaml:"worker_machine_type"`
	// NumWorkers is the initial and MaxWorkers the largest number of
	// Dataflow workers (0: Dataflow's default, autoscaling).
	NumWorkers int `yaml:"num_workers"`
	MaxWorkers int `yaml:"max_workers"`
}

// universalSet and dataflowSet name the options given for the universal
// and the Dataflow runner.
func (o *Options) universalSet() []string {
	return given(map[string]bool{"job_endpoint": o.JobEndpoint != "", "environment_type": o.EnvironmentType != "" && o.EnvironmentType != Loopback, "environment_config": o.EnvironmentConfig != ""})
}

func (o *Options) dataflowSet() []string {
	return given(map[string]bool{"project": o.Project != "", "region": o.Region != "", "staging_location": o.StagingLocation != "",
		"temp_location": o.TempLocation != "", "worker_machine_type": o.WorkerMachineType != "", "num_workers": o.NumWorkers != 0, "max_workers": o.MaxWorkers != 0})
}

func given(m map[string]bool) []string {
	var out []string
	for _, k := range []string{"job_endpoint", "environment_type", "environment_config", "project", "region", "staging_location",
		"temp_location", "worker_machine_type", "num_workers", "max_workers"} {
		if m[k] {
			out = append(out, k)
		}
	}
	return out
}

// CheckName fills in the default runner (prism) and checks the name.
func CheckName(name *string) error {
	if *name == "" {
		*name = Prism
	}
	for _, n := range Names {
		if *name == n {
			return nil
		}
	}
	return fmt.Errorf("unknown runner %q: use one of %s", *name, strings.Join(Names, ", "))
}

// CheckEnvironmentType normalises t to upper case and checks it ("" is
// left alone: the default, LOOPBACK).
func CheckEnvironmentType(t *string) error {
	if *t == "" {
		return nil
	}
	u := strings.ToUpper(*t)
	for _, e := range EnvironmentTypes {
		if u == e {
			*t = u
			return nil
		}
	}
	return fmt.Errorf("unknown environment type %q: use one of %s", *t, strings.Join(EnvironmentTypes, ", "))
}

// Check fills in the default runner and environment type, and checks that
// the runner has the options it needs. It returns the names of the options
// given that the runner does not use (one config may carry the settings of
// several runners; the caller warns about them).
func Check(name *string, o *Options) (unused []string, err error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := CheckEnvironmentType(&o.EnvironmentType); err != nil {
		errs = append(errs, err)
	}
	if o.NumWorkers < 0 || o.MaxWorkers < 0 {
		bad("num_workers %d and max_workers %d must not be negative (0: Dataflow's default)", o.NumWorkers, o.MaxWorkers)
	}
	switch *name {
	case Prism, Direct:
		unused = append(o.universalSet(), o.dataflowSet()...)
		if o.WorkerBinary != "" {
			unused = append(unused, "worker_binary")
		}
	case Universal:
		if o.JobEndpoint == "" {
			bad("runner universal needs --job-endpoint HOST:PORT, the job server of Flink, Spark or prism (e.g. localhost:8099)")
		} else if strings.Contains(o.JobEndpoint, "://") {
			bad("job endpoint %q: give HOST:PORT without a scheme", o.JobEndpoint)
		}
		if o.EnvironmentType == "" {
			o.EnvironmentType = Loopback
		}
		switch o.EnvironmentType {
		case Process:
			if o.EnvironmentConfig == "" {
				bad(`environment type PROCESS needs --environment-config '{"command": "/path/to/worker"}'`)
			}
		case External:
			if o.EnvironmentConfig == "" {
				bad("environment type EXTERNAL needs --environment-config HOST:PORT, the worker pool's address")
			}
		}
		unused = o.dataflowSet()
	case Dataflow:
		if o.Project == "" {
			bad("runner dataflow needs --project, the Google Cloud project")
		}
		if o.Region == "" {
			bad("runner dataflow needs --region, e.g. us-central1")
		}
		switch {
		case o.StagingLocation == "":
			bad("runner dataflow needs --staging-location gs://BUCKET/PATH for the worker binary and the pipeline")
		case !strings.HasPrefix(o.StagingLocation, "gs://"):
			bad("staging location %q: must be a gs:// path", o.StagingLocation)
		}
		if o.TempLocation != "" && !strings.HasPrefix(o.TempLocation, "gs://") {
			bad("temp location %q: must be a gs:// path", o.TempLocation)
		}
		if o.NumWorkers > 0 && o.MaxWorkers > 0 && o.MaxWorkers < o.NumWorkers {
			bad("max_workers %d is below num_workers %d", o.MaxWorkers, o.NumWorkers)
		}
		unused = o.universalSet()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return unused, nil
}

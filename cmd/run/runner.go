package main

import (
	"flag"
	"strings"

	"github.com/minerva-batch/minerva/pipelines/runners"
)

// runnerFlags are the flags of the universal and Dataflow runners, which
// every job command has.
type runnerFlags struct {
	o runners.Options
}

const runnerUsage = "Beam runner: prism (embedded), direct, universal (a Flink, Spark or prism job server at --job-endpoint) or dataflow"

func (r *runnerFlags) register(fs *flag.FlagSet) {
	o := &r.o
	fs.StringVar(&o.JobEndpoint, "job-endpoint", "", "universal: the job server's `HOST:PORT` (Flink's or Spark's job server, or prism's)")
	fs.StringVar(&o.EnvironmentType, "environment-type", runners.Loopback, "universal: where the SDK workers run: "+strings.Join(runners.EnvironmentTypes, ", ")+
		"; LOOPBACK runs them in this process, the only one that reads local files and a local model (the others need gs:// data and a worker image or binary)")
	fs.StringVar(&o.EnvironmentConfig, "environment-config", "", "universal: the DOCKER image, the PROCESS command as JSON ({\"command\": \"/path/to/worker\"}), or the EXTERNAL worker pool's HOST:PORT")
	fs.StringVar(&o.WorkerBinary, "worker-binary", "", "dataflow and universal (not LOOPBACK): a linux worker binary of this command (CGO_ENABLED=0 GOOS=linux go build ./cmd/run); default: Beam cross-compiles one with go build")
	fs.StringVar(&o.Project, "project", "", "dataflow: the Google Cloud project")
	fs.StringVar(&o.Region, "region", "", "dataflow: the region, e.g. us-central1")
	fs.StringVar(&o.StagingLocation, "staging-location", "", "dataflow: `gs://BUCKET/PATH` to stage the worker binary and the pipeline in")
	fs.StringVar(&o.TempLocation, "temp-location", "", "dataflow: `gs://BUCKET/PATH` for temporary files (default: under --staging-location)")
	fs.StringVar(&o.WorkerMachineType, "worker-machine-type", "", "dataflow: the workers' machine `TYPE`, e.g. n2-standard-8")
	fs.IntVar(&o.NumWorkers, "num-workers", 0, "dataflow: the initial number of workers (0: Dataflow's default)")
	fs.IntVar(&o.MaxWorkers, "max-workers", 0, "dataflow: the largest number of workers autoscaling may reach (0: Dataflow's default)")
}

// apply copies the flags given on the command line over the config's.
func (r *runnerFlags) apply(set map[string]bool, dst *runners.Options) {
	str := func(name string, d *string, v string) {
		if set[name] {
			*d = v
		}
	}
	num := func(name string, d *int, v int) {
		if set[name] {
			*d = v
		}
	}
	str("job-endpoint", &dst.JobEndpoint, r.o.JobEndpoint)
	str("environment-type", &dst.EnvironmentType, r.o.EnvironmentType)
	str("environment-config", &dst.EnvironmentConfig, r.o.EnvironmentConfig)
	str("worker-binary", &dst.WorkerBinary, r.o.WorkerBinary)
	str("project", &dst.Project, r.o.Project)
	str("region", &dst.Region, r.o.Region)
	str("staging-location", &dst.StagingLocation, r.o.StagingLocation)
	str("temp-location", &dst.TempLocation, r.o.TempLocation)
	str("worker-machine-type", &dst.WorkerMachineType, r.o.WorkerMachineType)
	num("num-workers", &dst.NumWorkers, r.o.NumWorkers)
	num("max-workers", &dst.MaxWorkers, r.o.MaxWorkers)
}

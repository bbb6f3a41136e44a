package tokenize

import (
	"flag"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/minerva-batch/minerva/pipelines/internal/job"
	"github.com/minerva-batch/minerva/pipelines/runners"
)

// TestBeamOptions checks that the universal and Dataflow runners' options
// reach Beam's flag variables, and that each run resets the others'.
func TestBeamOptions(t *testing.T) {
	defer job.SetBeamOptions(runners.Prism, runners.Options{})
	flagValue := func(name string) string {
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("Beam has no flag --%s", name)
		}
		return f.Value.String()
	}
	df := runners.Options{Project: "my-project", Region: "europe-west4", StagingLocation: "gs://bucket/staging", TempLocation: "gs://bucket/tmp",
		WorkerMachineType: "n2-standard-8", NumWorkers: 2, MaxWorkers: 10, WorkerBinary: "/tmp/minerva-worker"}
	if _, err := runners.Check(ptr(runners.Dataflow), &df); err != nil {
		t.Fatal(err)
	}
	if err := job.SetBeamOptions(runners.Dataflow, df); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"project": "my-project", "region": "europe-west4", "staging_location": "gs://bucket/staging", "temp_location": "gs://bucket/tmp",
		"worker_machine_type": "n2-standard-8", "num_workers": "2", "max_num_workers": "10", "worker_binary": "/tmp/minerva-worker", "endpoint": ""}
	for k, v := range want {
		if got := flagValue(k); got != v {
			t.Errorf("dataflow: Beam's --%s = %q, want %q", k, got, v)
		}
	}
	if *gcpopts.Project != "my-project" || *gcpopts.Region != "europe-west4" || *jobopts.WorkerBinary != "/tmp/minerva-worker" {
		t.Errorf("gcpopts %q %q, jobopts.WorkerBinary %q", *gcpopts.Project, *gcpopts.Region, *jobopts.WorkerBinary)
	}

	uni := runners.Options{JobEndpoint: "localhost:8099", EnvironmentType: "docker", EnvironmentConfig: "apache/beam_go_sdk:2.77.0"}
	if _, err := runners.Check(ptr(runners.Universal), &uni); err != nil {
		t.Fatal(err)
	}
	if err := job.SetBeamOptions(runners.Universal, uni); err != nil {
		t.Fatal(err)
	}
	if *jobopts.Endpoint != "localhost:8099" || *jobopts.EnvironmentType != "docker" || *jobopts.EnvironmentConfig != "apache/beam_go_sdk:2.77.0" || jobopts.IsLoopback() {
		t.Errorf("universal: jobopts endpoint %q, environment %q %q", *jobopts.Endpoint, *jobopts.EnvironmentType, *jobopts.EnvironmentConfig)
	}
	for _, k := range []string{"project", "region", "staging_location", "temp_location", "worker_machine_type"} {
		if got := flagValue(k); got != "" {
			t.Errorf("universal after dataflow: Beam's --%s = %q, want it reset", k, got)
		}
	}

	// prism: back to its embedded job server (started by an earlier test,
	// or by the next run) and LOOPBACK workers.
	if err := job.SetBeamOptions(runners.Prism, runners.Options{}); err != nil {
		t.Fatal(err)
	}
	if *jobopts.Endpoint == "localhost:8099" || !jobopts.IsLoopback() || *jobopts.WorkerBinary != "" {
		t.Errorf("prism after universal: jobopts endpoint %q, environment %q", *jobopts.Endpoint, *jobopts.EnvironmentType)
	}
}

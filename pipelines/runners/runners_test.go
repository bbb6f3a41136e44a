package runners

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// make test runs ./pipelines/... again with -runner=direct; this package
// runs no pipeline (it does not link Beam), so it only accepts the flag.
var _ = flag.String("runner", "", "ignored: this package runs no pipeline")

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		runner string
		o      Options
		want   []string // substrings of the error; none means success
		unused []string
	}{
		{"default", "", Options{}, nil, nil},
		{"prism with loopback", Prism, Options{EnvironmentType: "loopback"}, nil, nil},
		{"prism ignores", Prism, Options{JobEndpoint: "h:1", Project: "p", WorkerBinary: "w"}, nil, []string{"job_endpoint", "project", "worker_binary"}},
		{"unknown", "flink", Options{}, []string{`unknown runner "flink"`, "prism, direct, universal, dataflow"}, nil},
		{"universal", Universal, Options{JobEndpoint: "localhost:8099"}, nil, nil},
		{"universal ignores dataflow", Universal, Options{JobEndpoint: "localhost:8099", Region: "r"}, nil, []string{"region"}},
		{"universal no endpoint", Universal, Options{}, []string{"runner universal needs --job-endpoint HOST:PORT"}, nil},
		{"universal scheme", Universal, Options{JobEndpoint: "http://h:1"}, []string{"without a scheme"}, nil},
		{"bad environment", Universal, Options{JobEndpoint: "h:1", EnvironmentType: "k8s"}, []string{`unknown environment type "k8s"`, "LOOPBACK, DOCKER, PROCESS, EXTERNAL"}, nil},
		{"process needs command", Universal, Options{JobEndpoint: "h:1", EnvironmentType: "process"}, []string{"PROCESS needs --environment-config"}, nil},
		{"external needs address", Universal, Options{JobEndpoint: "h:1", EnvironmentType: "EXTERNAL"}, []string{"EXTERNAL needs --environment-config"}, nil},
		{"docker", Universal, Options{JobEndpoint: "h:1", EnvironmentType: "docker"}, nil, nil},
		{"dataflow", Dataflow, Options{Project: "p", Region: "r", StagingLocation: "gs://b/s", NumWorkers: 2, MaxWorkers: 4}, nil, nil},
		{"dataflow missing", Dataflow, Options{}, []string{"needs --project", "needs --region", "needs --staging-location gs://"}, nil},
		{"dataflow local staging", Dataflow, Options{Project: "p", Region: "r", StagingLocation: "/tmp/s", TempLocation: "/tmp/t"},
			[]string{`staging location "/tmp/s": must be a gs:// path`, `temp location "/tmp/t"`}, nil},
		{"dataflow workers", Dataflow, Options{Project: "p", Region: "r", StagingLocation: "gs://b/s", NumWorkers: 5, MaxWorkers: 2}, []string{"max_workers 2 is below num_workers 5"}, nil},
		{"negative workers", Dataflow, Options{Project: "p", Region: "r", StagingLocation: "gs://b/s", NumWorkers: -1}, []string{"must not be negative"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, o := tt.runner, tt.o
			unused, err := Check(&name, &o)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(unused, tt.unused) {
					t.Errorf("unused %v, want %v", unused, tt.unused)
				}
				if name == "" || (name == Universal && o.EnvironmentType != strings.ToUpper(o.EnvironmentType)) {
					t.Errorf("runner %q, environment %q not filled in", name, o.EnvironmentType)
				}
				if name == Universal && tt.o.EnvironmentType == "" && o.EnvironmentType != Loopback {
					t.Errorf("universal's default environment %q, want LOOPBACK", o.EnvironmentType)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

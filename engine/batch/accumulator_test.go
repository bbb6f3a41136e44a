package batch

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// randomObservations returns n observations spread over about one second.
func randomObservations(r *rand.Rand, n int) []Observation {
	const t0 = int64(1_700_000_000_000_000_000)
	obs := make([]Observation, n)
	for i := range obs {
		obs[i] = Observation{
			OK:            r.IntN(10) != 0,
			Tokens:        r.Int64N(4096),
			Bytes:         r.Int64N(1 << 16),
			StartUnixNano: t0 + r.Int64N(int64(time.Second)),
			DurationNanos: int64(math.Exp(r.NormFloat64()*1.5 + 15)),
		}
		if r.IntN(50) == 0 {
			obs[i].DurationNanos = 0
		}
	}
	return obs
}

func TestAccumulatorMergeIsExact(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		// Even seeds: many observations in a few partitions. Odd seeds: few
		// observations in up to as many partitions, so single-item and empty
		// partials are common.
		n, maxParts := 1+r.IntN(3000), 12
		if seed%2 == 1 {
			n = 1 + r.IntN(200)
			maxParts = n + 2
		}
		obs := randomObservations(r, n)

		var whole Accumulator
		for _, o := range obs {
			whole.Add(o)
		}
		want := whole.Stats()

		// Split into a random number of random (possibly empty) partitions.
		parts := make([]Accumulator, 1+r.IntN(maxParts))
		for _, o := range obs {
			parts[r.IntN(len(parts))].Add(o)
		}

		// Linear merge in a random order.
		var linear Accumulator
		for _, i := range r.Perm(len(parts)) {
			linear.Merge(parts[i])
		}
		if got := linear.Stats(); got != want {
			t.Fatalf("seed %d: linear merge Stats =\n%+v\nwant\n%+v", seed, got, want)
		}

		// Random binary-tree merge: repeatedly merge two random accumulators,
		// after sending each through JSON as a stand-in for a worker coder.
		pool := make([]Accumulator, len(parts))
		for i, p := range parts {
			pool[i] = roundTrip(t, p)
		}
		for len(pool) > 1 {
			i := r.IntN(len(pool))
			a := pool[i]
			pool = slices.Delete(pool, i, i+1)
			j := r.IntN(len(pool))
			a.Merge(pool[j])
			pool[j] = roundTrip(t, a)
		}
		if got := pool[0].Stats(); got != want {
			t.Fatalf("seed %d: tree merge Stats =\n%+v\nwant\n%+v", seed, got, want)
		}
		if !reflect.DeepEqual(linear, whole) {
			t.Fatalf("seed %d: merged accumulator state differs from the single accumulator", seed)
		}
	}
}

func roundTrip(t *testing.T, a Accumulator) Accumulator {
	t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Accumulator
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAccumulatorMatchesExactValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	obs := randomObservations(r, 5000)
	var acc Accumulator
	var sum, tokens, bytes, maxDur int64
	var ok int64
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	durs := make([]int64, len(obs))
	for i, o := range obs {
		acc.Add(o)
		sum += o.DurationNanos
		tokens += o.Tokens
		bytes += o.Bytes
		maxDur = max(maxDur, o.DurationNanos)
		if o.OK {
			ok++
		}
		first = min(first, o.StartUnixNano)
		last = max(last, o.StartUnixNano+o.DurationNanos)
		durs[i] = o.DurationNanos
	}
	slices.Sort(durs)
	st := acc.Stats()
	wall := time.Duration(last - first)
	checks := []struct {
		name      string
		got, want float64
		rel       float64
	}{
		{"TotalItems", float64(st.TotalItems), 5000, 0},
		{"Succeeded", float64(st.Succeeded), float64(ok), 0},
		{"Failed", float64(st.Failed), float64(5000 - ok), 0},
		{"WallTime", float64(st.WallTime), float64(wall), 0},
		{"SumItemTime", float64(st.SumItemTime), float64(sum), 0},
		{"MeanLatency", float64(st.MeanLatency), float64(sum / 5000), 0},
		{"MaxLatency", float64(st.MaxLatency), float64(maxDur), 0},
		{"TotalTokens", float64(st.TotalTokens), float64(tokens), 0},
		{"TotalBytes", float64(st.TotalBytes), float64(bytes), 0},
		{"ItemsPerSecond", st.ItemsPerSecond, 5000 / wall.Seconds(), 1e-12},
		{"TokensPerSecond", st.TokensPerSecond, float64(tokens) / wall.Seconds(), 1e-12},
		{"BytesPerSecond", st.BytesPerSecond, float64(bytes) / wall.Seconds(), 1e-12},
		{"SpeedupVsSequential", st.SpeedupVsSequential, float64(sum) / float64(wall), 1e-12},
		{"P50Latency", float64(st.P50Latency), float64(exactQuantile(durs, 0.50)), SketchRelativeAccuracy},
		{"P95Latency", float64(st.P95Latency), float64(exactQuantile(durs, 0.95)), SketchRelativeAccuracy},
		{"P99Latency", float64(st.P99Latency), float64(exactQuantile(durs, 0.99)), SketchRelativeAccuracy},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.rel*math.Abs(c.want) {
			t.Errorf("%s = %v, want %v (relative tolerance %v)", c.name, c.got, c.want, c.rel)
		}
	}
}

func TestAccumulatorSpeedup(t *testing.T) {
	const t0 = int64(1_000_000_000_000)
	ms := int64(time.Millisecond)
	tests := []struct {
		name        string
		obs         [][2]int64 // start offset, duration (ms)
		wantWall    time.Duration
		wantSum     time.Duration
		wantSpeedup float64
	}{
		{"empty", nil, 0, 0, 0},
		{"single item", [][2]int64{{0, 100}}, 100 * time.Millisecond, 100 * time.Millisecond, 1},
		{"four fully overlapping", [][2]int64{{0, 100}, {0, 100}, {0, 100}, {0, 100}},
			100 * time.Millisecond, 400 * time.Millisecond, 4},
		{"partially overlapping", [][2]int64{{0, 100}, {50, 100}},
			150 * time.Millisecond, 200 * time.Millisecond, 200.0 / 150.0},
		{"back to back", [][2]int64{{0, 100}, {100, 100}, {200, 100}},
			300 * time.Millisecond, 300 * time.Millisecond, 1},
		{"gaps between items", [][2]int64{{0, 100}, {300, 100}},
			400 * time.Millisecond, 200 * time.Millisecond, 0.5},
		{"short item inside long one, out of order", [][2]int64{{20, 10}, {0, 90}},
			90 * time.Millisecond, 100 * time.Millisecond, 100.0 / 90.0},
		{"instantaneous items", [][2]int64{{5, 0}, {5, 0}}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var acc Accumulator
			for _, o := range tc.obs {
				acc.Add(Observation{OK: true, StartUnixNano: t0 + o[0]*ms, DurationNanos: o[1] * ms})
			}
			st := acc.Stats()
			if st.WallTime != tc.wantWall || st.SumItemTime != tc.wantSum {
				t.Errorf("wall/sum = %v/%v, want %v/%v", st.WallTime, st.SumItemTime, tc.wantWall, tc.wantSum)
			}
			if st.SpeedupVsSequential != tc.wantSpeedup {
				t.Errorf("SpeedupVsSequential = %v, want %v", st.SpeedupVsSequential, tc.wantSpeedup)
			}
			if tc.wantWall > 0 {
				if want := float64(len(tc.obs)) / tc.wantWall.Seconds(); st.ItemsPerSecond != want {
					t.Errorf("ItemsPerSecond = %v, want %v", st.ItemsPerSecond, want)
				}
			}
		})
	}
}

func TestAccumulatorZeroAndEdgeCases(t *testing.T) {
	var empty Accumulator
	if st := empty.Stats(); st != (Stats{}) {
		t.Errorf("empty Stats = %+v, want zero", st)
	}
	var merged Accumulator
	merged.Merge(Accumulator{})
	if !reflect.DeepEqual(merged, Accumulator{}) {
		t.Errorf("merging empty accumulators produced state %+v", merged)
	}

	// A negative duration counts as zero everywhere.
	var neg Accumulator
	neg.Add(Observation{OK: false, StartUnixNano: 100, DurationNanos: -50, Tokens: 3, Bytes: 4})
	st := neg.Stats()
	want := Stats{TotalItems: 1, Failed: 1, TotalTokens: 3, TotalBytes: 4}
	if st != want {
		t.Errorf("negative duration Stats = %+v, want %+v", st, want)
	}

	// Merging into an empty accumulator copies, and the source is untouched.
	var src Accumulator
	src.Add(Observation{OK: true, StartUnixNano: 10, DurationNanos: 5000})
	var dst Accumulator
	dst.Merge(src)
	dst.Add(Observation{OK: true, StartUnixNano: 0, DurationNanos: 7000})
	if src.Items != 1 || src.Latency.Count() != 1 || src.FirstStartUnixNano != 10 {
		t.Errorf("Merge modified its argument: %+v", src)
	}
	if dst.FirstStartUnixNano != 0 || dst.LastEndUnixNano != 7000 || dst.MaxDurationNanos != 7000 {
		t.Errorf("dst = %+v", dst)
	}
}

func TestNewObservation(t *testing.T) {
	start := time.Unix(1_700_000_000, 123)
	o := NewObservation(start, 250*time.Millisecond, true)
	want := Observation{OK: true, StartUnixNano: start.UnixNano(), DurationNanos: int64(250 * time.Millisecond)}
	if o != want {
		t.Errorf("NewObservation = %+v, want %+v", o, want)
	}
}

// TestAccumulatorPlainFields guards the Beam-coder contract: every field,
// recursively, is exported and of a plain serialisable kind.
func TestAccumulatorPlainFields(t *testing.T) {
	var check func(path string, typ reflect.Type)
	check = func(path string, typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Int64, reflect.Int32, reflect.Float64, reflect.Bool, reflect.String:
		case reflect.Slice:
			check(path+"[]", typ.Elem())
		case reflect.Map:
			check(path+"[key]", typ.Key())
			check(path+"[value]", typ.Elem())
		case reflect.Struct:
			if typ == reflect.TypeFor[time.Time]() {
				t.Errorf("%s is a time.Time", path)
				return
			}
			for f := range typ.Fields() {
				if !f.IsExported() {
					t.Errorf("%s.%s is unexported", path, f.Name)
				}
				check(path+"."+f.Name, f.Type)
			}
		default:
			t.Errorf("%s has non-plain kind %s", path, typ.Kind())
		}
	}
	check("Accumulator", reflect.TypeFor[Accumulator]())
	check("Observation", reflect.TypeFor[Observation]())
}

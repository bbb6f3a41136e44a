package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withImpl runs f with the package switched to implementation k.
func withImpl(t testing.TB, k impl, f func()) {
	t.Helper()
	saved := active
	active = k
	defer func() { active = saved }()
	f()
}

// randVec returns n values from a normal distribution of deviation sd.
func randVec(rng *rand.Rand, n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sd)
	}
	return v
}

// newRandMatrix returns a rows×cols matrix of type typ quantised from
// normal values.
func newRandMatrix(t testing.TB, rng *rand.Rand, typ Type, rows, cols int) *Matrix {
	t.Helper()
	data, err := Quantize(typ, randVec(rng, rows*cols, 0.5), cols)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestF16RoundTripExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		exp := h >> 10 & 0x1f
		mant := h & 0x3ff
		if exp == 0x1f && mant != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, f)
			}
			if back := F32ToF16(f); back&0x7fff != 0x7e00 || back&0x8000 != uint16(h)&0x8000 {
				t.Fatalf("F32ToF16(NaN from %#04x) = %#04x, want a quiet NaN of the same sign", h, back)
			}
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x) = %v) = %#04x", h, f, back)
		}
		// Every half is exactly representable: check the value against
		// the IEEE definition.
		want := float64(mant)
		if exp == 0 {
			want = want * math.Pow(2, -24)
		} else if exp < 0x1f {
			want = (1 + want/1024) * math.Pow(2, float64(exp-15))
		} else {
			want = math.Inf(1)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, f, want)
		}
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00}, // halfway to the next binade rounds to even: infinity
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{1 + 1.0/2048, 0x3c00},             // halfway, round to even (down)
		{1 + 3.0/2048, 0x3c02},             // halfway, round to even (up)
		{1 + 1.0/2048 + 1.0/65536, 0x3c01}, // above halfway
		{float32(math.Pow(2, -24)), 0x0001},
		{float32(math.Pow(2, -25)), 0x0000}, // halfway to the smallest subnormal: even is 0
		{float32(math.Pow(2, -25) * 1.5), 0x0001},
		{float32(math.Pow(2, -14)), 0x0400},
		{float32(math.Pow(2, -14) - math.Pow(2, -25)), 0x0400}, // rounds up into the normals
	}
	for _, tt := range tests {
		if got := F32ToF16(tt.in); got != tt.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestQuantizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		typ Type
		// maximum error relative to the block's largest magnitude
		relErr float64
	}{
		{F32, 0},
		{F16, 1.0 / 2048},
		{Q8_0, 0.5/127 + 1.0/2048},
		{Q4_0, 1.0/8 + 1.0/2048}, // the clamp at q=15 costs up to amax/8
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			const rows, cols = 7, 96
			src := randVec(rng, rows*cols, 1)
			src[5] = 0 // an exact zero
			for c := 64; c < 96; c++ {
				src[cols+c] = 0 // an all-zero block
			}
			data, err := Quantize(tt.typ, src, cols)
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMatrix(tt.typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, cols)
			for r := 0; r < rows; r++ {
				m.Row(r, dst)
				for b := 0; b < cols/QK; b++ {
					var amax float64
					for _, v := range src[r*cols+b*QK : r*cols+b*QK+QK] {
						amax = max(amax, math.Abs(float64(v)))
					}
					for j := b * QK; j < b*QK+QK; j++ {
						want := float64(src[r*cols+j])
						tol := tt.relErr * amax
						if tt.typ == F16 {
							tol = tt.relErr * math.Abs(want)
						}
						if d := math.Abs(float64(dst[j]) - want); d > tol {
							t.Fatalf("row %d col %d: %v, want %v ± %v", r, j, dst[j], want, tol)
						}
					}
				}
			}
		})
	}
}

func TestNewMatrixErrors(t *testing.T) {
	tests := []struct {
		name       string
		typ        Type
		rows, cols int
		bytes      int
	}{
		{"unsupported", Type(3), 1, 32, 20},
		{"cols not a block multiple", Q8_0, 1, 33, 34},
		{"zero cols", F32, 1, 0, 0},
		{"zero rows", F32, 0, 4, 0},
		{"short data", Q4_0, 2, 32, 18},
		{"long data", F16, 1, 3, 8},
	}
	for _, tt := range tests {
		if _, err := NewMatrix(tt.typ, tt.rows, tt.cols, make([]byte, tt.bytes)); err == nil {
			t.Errorf("%s: NewMatrix(%v, %d, %d, %d bytes) succeeded", tt.name, tt.typ, tt.rows, tt.cols, tt.bytes)
		}
	}
}

// shapes are the matrix shapes of the correctness tests: odd row counts,
// and for F32/F16 every column tail length.
var shapes = []struct {
	rows, cols int
	quant      bool // cols is a multiple of QK: valid for every type
}{
	{1, 1, false}, {3, 7, false}, {5, 8, false}, {9, 9, false}, {13, 15, false},
	{2, 17, false}, {11, 31, false}, {4, 44, false}, {7, 63, false},
	{1, 32, true}, {5, 32, true}, {13, 64, true}, {31, 96, true}, {7, 288, true}, {17, 768, true},
}

var types = []Type{F32, F16, Q8_0, Q4_0}

// refMatMul is MatMul in float64 on the dequantised weights, with the bound
// Σ|w·x| of each output for the error tolerance.
func refMatMul(m *Matrix, x []float32, n int) (ref, mag []float64) {
	ref = make([]float64, n*m.Rows)
	mag = make([]float64, n*m.Rows)
	w := make([]float32, m.Cols)
	if m.Type == Q8_0 {
		// Q8_0 rows multiply the vectors quantised to Q8 (q8act.go): the
		// reference uses the same quantised values.
		qx := quantizeActs(nil, x, n, m.Cols)
		xq := make([]float32, len(x))
		for blk := 0; blk < len(x)/QK; blk++ {
			d := math.Float32frombits(binary.LittleEndian.Uint32(qx[blk*qxBlock:]))
			for j := 0; j < QK; j++ {
				xq[blk*QK+j] = d * float32(int8(qx[blk*qxBlock+4+j]))
			}
		}
		x = xq
	}
	for r := 0; r < m.Rows; r++ {
		m.Row(r, w)
		for b := 0; b < n; b++ {
			var s, a float64
			for c, wc := range w {
				p := float64(wc) * float64(x[b*m.Cols+c])
				s += p
				a += math.Abs(p)
			}
			ref[b*m.Rows+r], mag[b*m.Rows+r] = s, a
		}
	}
	return ref, mag
}

func TestMatMulReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range impls {
		for _, typ := range types {
			for _, sh := range shapes {
				if typ.BlockSize() > 1 && !sh.quant {
					continue
				}
				name := fmt.Sprintf("%s/%v/%dx%d", k.name, typ, sh.rows, sh.cols)
				t.Run(name, func(t *testing.T) {
					m := newRandMatrix(t, rng, typ, sh.rows, sh.cols)
					const n = 5
					x := randVec(rng, n*sh.cols, 1)
					ref, mag := refMatMul(m, x, n)
					out := make([]float32, n*sh.rows)
					withImpl(t, k, func() { m.MatMul(out, x, n) })
					// Each output is a sum of cols products in float32,
					// ≤ cols/8+3 roundings deep (+1 for the block scale).
					tol := float64(sh.cols/8+5) * 0x1p-24
					for i, got := range out {
						if d := math.Abs(float64(got) - ref[i]); d > tol*mag[i]+1e-30 {
							t.Fatalf("out[%d] = %v, want %v (error %g > %g)", i, got, ref[i], d, tol*mag[i])
						}
					}
				})
			}
		}
	}
}

// TestMatMulSpecialValues checks that infinities and NaNs in the weights or
// the inputs reach the outputs they should, and only those.
func TestMatMulSpecialValues(t *testing.T) {
	for _, k := range impls {
		for _, typ := range []Type{F32, F16} {
			const rows, cols = 3, 11
			w := make([]float32, rows*cols)
			for i := range w {
				w[i] = 1
			}
			w[cols+10] = float32(math.Inf(1)) // row 1, in the tail
			data, _ := Quantize(typ, w, cols)
			m, err := NewMatrix(typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, 2*cols+1)
			for i := range x {
				x[i] = 1
			}
			x[cols+2] = float32(math.NaN()) // vector 1
			x[2*cols] = float32(math.NaN()) // past the last vector
			out := make([]float32, 2*rows)
			withImpl(t, k, func() { m.MatMul(out, x, 2) })
			want := []float64{cols, math.Inf(1), cols, math.NaN(), math.NaN(), math.NaN()}
			for i, o := range out {
				if !(float64(o) == want[i] || math.IsNaN(want[i]) && math.IsNaN(float64(o))) {
					t.Errorf("%s/%v: out[%d] = %v, want %v", k.name, typ, i, o, want[i])
				}
			}
		}
	}
}

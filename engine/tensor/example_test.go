package tensor_test

import (
	"fmt"

	"github.com/minerva-batch/minerva/engine/tensor"
)

// Quantise a 2×64 matrix to Q8_0 and multiply it with a batch of two
// vectors.
func Example() {
	const rows, cols = 2, 64
	w := make([]float32, rows*cols)
	for c := 0; c < cols; c++ {
		w[c] = 1                   // row 0 sums its input
		w[cols+c] = float32(c % 2) // row 1 sums the odd elements
	}
	data, err := tensor.Quantize(tensor.Q8_0, w, cols)
	if err != nil {
		panic(err)
	}
	m, err := tensor.NewMatrix(tensor.Q8_0, rows, cols, data)
	if err != nil {
		panic(err)
	}
	x := make([]float32, 2*cols) // two input vectors, one after the other
	for c := 0; c < cols; c++ {
		x[c] = 0.5
		x[cols+c] = float32(c)
	}
	out := make([]float32, 2*rows) // out[b*rows+r]
	m.MatMul(out, x, 2)
	// Q8_0 stores 1 as 127 times the float16 scale 1/127, which is
	// 0.99994, and the vectors are quantised to 8 bits per block of 32 as
	// well (0..31 in steps of 31/127): the exact 32, 16, 2016 and 1024
	// come out within 0.2%.
	fmt.Printf("%.3f\n", out)
	// Output: [31.998 15.999 2019.782 1025.638]
}

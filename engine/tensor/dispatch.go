package tensor

// matmulRows is the kernel MatMulRows runs: the vector kernels where the CPU
// has them, else the portable ones.
var matmulRows = matmulRowsGeneric

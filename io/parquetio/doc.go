// Package parquetio reads the Parquet inputs of a tokenization job and writes
// its Parquet outputs.
//
// The input side validates request files up front ([Inspect],
// [InspectTokens]) and then streams their rows ([ReadRows], [ReadIDs],
// [ReadTokenRows]). Readers decode only the columns they need (column
// projection) and hold at most a page's worth of each of those columns in
// memory at a time, so files of any size can be processed. Errors always name
// the input file, and corrupt files yield errors rather than panics.
//
// The output side writes shards with [ShardWriter]: rows go to a hidden
// temporary file that is atomically renamed into place on
// [ShardWriter.Commit], so readers of an output folder never observe a
// partial shard. The output row types ([TokenResult], [TextResult],
// [TokenizeError], [DetokenizeError]) carry parquet struct tags that give
// schemas other engines (DuckDB, Arrow, Spark) read with the natural types:
// strings are BYTE_ARRAY with the STRING logical type and token lists are
// standard three-level LISTs.
//
// Only the local filesystem is supported for now; file access goes through a
// small internal seam so that other storage (such as GCS) can be added later.
package parquetio

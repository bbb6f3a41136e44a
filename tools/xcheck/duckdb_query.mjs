// Run one SQL query in an in-memory DuckDB and print the result as JSON.
//
// Usage:
//   node duckdb_query.mjs SQL
//
// Prints one JSON object to stdout:
//   {"columns":[{"name":"x","type":"INTEGER"},...],"rows":[[42],...]}
// "type" is DuckDB's type string (VARCHAR, INTEGER[], BIGINT, STRUCT(...)...).
// Values are JSON-able: BIGINT/UBIGINT/HUGEINT/UHUGEINT/BIGNUM become numbers
// when they are safe integers and decimal strings otherwise; LIST/ARRAY become
// arrays, STRUCT objects, MAP [{key,value},...]; DECIMAL, dates, timestamps,
// UUID and BLOB (DuckDB's escaped form) become strings; NaN/Inf become strings.
// On error the message goes to stderr and the exit code is 1.
//
// Used by the Go package internal/xcheck; install deps with
// `npm ci --prefix tools/xcheck` (or `make xcheck-deps`).

import {
  DuckDBInstance,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
} from "@duckdb/node-api";

const BIG_INT_TYPES = new Set([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

// Like DuckDB's Json converter, but integers wider than 32 bits are numbers
// when they fit exactly in a double (|v| <= 2^53-1), otherwise strings.
function convert(value, type, converter) {
  if (value == null) return null;
  if (BIG_INT_TYPES.has(type.typeId)) {
    const b = typeof value === "bigint" ? value : BigInt(String(value));
    const n = Number(b);
    return Number.isSafeInteger(n) && BigInt(n) === b ? n : b.toString();
  }
  return JsonDuckDBValueConverter(value, type, converter);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) {
    process.stderr.write("usage: node duckdb_query.mjs SQL\n");
    process.exit(2);
  }
  const sql = args[0];
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    const names = reader.columnNames();
    const types = reader.columnTypes();
    const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
    const rows = reader.convertRows(convert);
    process.stdout.write(JSON.stringify({ columns, rows }) + "\n");
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

main().catch((e) => {
  process.stderr.write(`duckdb_query: ${e?.message ?? e}\n`);
  process.exit(1);
});

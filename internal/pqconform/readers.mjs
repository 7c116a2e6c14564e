// Reads Parquet files with two readers that share no code with parquet-go or
// with each other: hyparquet (JavaScript; it prunes pages with the page
// index) and arrow-rs (parquet-wasm). For each file it
//   - reads every row with both and compares them, value by value, in a
//     canonical form driven by the file's schema;
//   - finds an optional text column holding '' (hublake writes an absent or
//     empty text as NULL, so '' there is a NULL gone wrong);
//   - looks up present values of the top-level columns by equality with
//     hyparquet's page-index pruning (usePageIndex, and an explicit $eq:
//     hyparquet 1.31 prunes pages for operators only), which must find every
//     row a full scan finds;
//   - writes hyparquet's canonical rows, one JSON line each, for the Go side.
// Usage: node readers.mjs <list.json> ; list.json is
// {"files": [{"path": "...", "rows": "out.jsonl"}], "probes": 8}; it prints
// one JSON report on stdout.
import { readFileSync, writeFileSync } from 'node:fs'
import { parquetMetadata, parquetReadObjects, parquetSchema, readOffsetIndex } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { readParquet } from 'parquet-wasm/node'
import { tableFromIPC } from 'apache-arrow'

const list = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const maxProbes = list.probes ?? 8

function isTimestamp(e) {
  return e.logical_type?.type === 'TIMESTAMP' || e.converted_type === 'TIMESTAMP_MILLIS' || e.converted_type === 'TIMESTAMP_MICROS'
}
function isText(e) {
  return e.type === 'BYTE_ARRAY' && (e.logical_type?.type === 'STRING' || e.converted_type === 'UTF8')
}
function kindOf(node) {
  const e = node.element
  if (e.converted_type === 'LIST' || e.logical_type?.type === 'LIST') return 'list'
  if (e.converted_type === 'MAP' || e.logical_type?.type === 'MAP') return 'map'
  return node.children.length ? 'struct' : 'leaf'
}
function children(v) {
  // Arrow vectors and rows have toArray/toJSON; hyparquet gives plain values.
  if (v == null) return v
  if (typeof v.toArray === 'function' && !Array.isArray(v)) return Array.from(v)
  return v
}
const hexBuf = Buffer.alloc(8)

// canon returns the canonical form of value v of schema node, and reports
// '' in optional text to empty().
function canon(v, node, path, empty) {
  const e = node.element
  if (v === null || v === undefined) return null
  switch (kindOf(node)) {
    case 'list': {
      const elem = node.children[0].children[0]
      return Array.from(children(v), x => canon(x, elem, path + '[]', empty))
    }
    case 'map': {
      const kv = node.children[0]
      let entries
      if (v instanceof Map) entries = [...v.entries()]
      else if (typeof v.toJSON === 'function' && !Array.isArray(v)) entries = Object.entries(v.toJSON())
      else if (Array.isArray(v)) entries = v.map(x => [x.key, x.value])
      else entries = Object.entries(v)
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      const out = {}
      for (const [k, x] of entries) out[k] = canon(x, kv.children[1], path + '{}', empty)
      return out
    }
    case 'struct': {
      const out = {}
      for (const c of node.children) out[c.element.name] = canon(v[c.element.name], c, path + '.' + c.element.name, empty)
      return out
    }
  }
  if (isTimestamp(e)) return 't:' + (v instanceof Date ? v.getTime() : Number(v))
  switch (e.type) {
    case 'BOOLEAN': return Boolean(v)
    case 'INT32': return 'i:' + Number(v)
    case 'INT64': return 'l:' + BigInt(v)
    case 'DOUBLE': hexBuf.writeDoubleLE(Number(v)); return 'd:' + hexBuf.toString('hex')
    case 'FLOAT': hexBuf.writeFloatLE(Number(v)); return 'f:' + hexBuf.subarray(0, 4).toString('hex')
  }
  if (isText(e)) {
    if (v === '' && e.repetition_type === 'OPTIONAL') empty(path)
    return String(v)
  }
  return 'b:' + Buffer.from(v).toString('hex')
}

async function check(entry) {
  const report = { path: entry.path, rows: 0, problems: [], probes: 0 }
  const bad = msg => { if (report.problems.length < 50) report.problems.push(msg) }
  const buf = readFileSync(entry.path)
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const metadata = parquetMetadata(file)
  const root = parquetSchema(metadata)
  const rows = await parquetReadObjects({ file, metadata, compressors })
  report.rows = rows.length
  const emptySeen = new Set()
  const canonRow = (r, onEmpty) => {
    const out = {}
    for (const c of root.children) out[c.element.name] = canon(r[c.element.name], c, c.element.name, onEmpty)
    return JSON.stringify(out)
  }
  const hy = rows.map(r => canonRow(r, p => emptySeen.add(p)))
  for (const p of emptySeen) bad(`'' in optional text ${p} (a NULL written as '')`)
  if (entry.rows) writeFileSync(entry.rows, hy.join('\n') + (hy.length ? '\n' : ''))

  // arrow-rs, through Arrow IPC.
  const table = tableFromIPC(readParquet(new Uint8Array(buf)).intoIPCStream())
  if (table.numRows !== rows.length) bad(`arrow-rs reads ${table.numRows} rows, hyparquet ${rows.length}`)
  let diffs = 0
  for (let i = 0; i < Math.min(table.numRows, rows.length); i++) {
    const a = canonRow(table.get(i), () => {})
    if (a !== hy[i] && diffs++ < 3) bad(`row ${i}: arrow-rs and hyparquet differ:\n  arrow-rs  ${a.slice(0, 400)}\n  hyparquet ${hy[i].slice(0, 400)}`)
  }
  if (diffs > 3) bad(`${diffs} rows differ between arrow-rs and hyparquet`)

  // Equality lookups of present values, pruned by the page index.
  for (const c of root.children) {
    const e = c.element
    if (kindOf(c) !== 'leaf' || !(isText(e) || e.type === 'INT32' || e.type === 'DOUBLE') || isTimestamp(e)) continue
    const chunks = metadata.row_groups.map(g => g.columns.find(x => x.meta_data.path_in_schema.join('.') === e.name))
    if (!chunks.some(x => x?.column_index_length)) continue
    const counts = new Map()
    for (const r of rows) {
      const v = r[e.name]
      if (v !== null && v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1)
    }
    const distinct = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const pick = new Set()
    for (let k = 0; k < maxProbes && distinct.length; k++) pick.add(distinct[Math.floor(k * (distinct.length - 1) / Math.max(1, maxProbes - 1))])
    // The first value of each page: where bounds are cut.
    let groupStart = 0
    for (const [g, chunk] of chunks.entries()) {
      if (chunk?.offset_index_length) {
        const start = Number(chunk.offset_index_offset)
        const oi = readOffsetIndex({ view: new DataView(file, start, chunk.offset_index_length), offset: 0 })
        for (const loc of oi.page_locations.slice(0, maxProbes)) {
          const v = rows[groupStart + Number(loc.first_row_index)]?.[e.name]
          if (v !== null && v !== undefined) pick.add(v)
        }
      }
      groupStart += Number(metadata.row_groups[g].num_rows)
    }
    for (const v of pick) {
      const got = await parquetReadObjects({ file, metadata, compressors, columns: [e.name], filter: { [e.name]: { $eq: v } }, usePageIndex: true })
      report.probes++
      if (got.length !== counts.get(v)) bad(`${e.name} = ${JSON.stringify(v)}: ${got.length} rows with the page index, ${counts.get(v)} by a full scan`)
    }
  }
  return report
}

const reports = []
for (const entry of list.files) {
  try {
    reports.push(await check(entry))
  } catch (err) {
    reports.push({ path: entry.path, rows: 0, probes: 0, problems: [`read: ${err?.stack ?? err}`] })
  }
}
process.stdout.write(JSON.stringify(reports))

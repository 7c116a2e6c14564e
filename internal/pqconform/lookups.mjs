// Times equality lookups of present values, SELECT column, select... WHERE
// column = value, with hyparquet, with and without its page-index pruning,
// and counts what the page index keeps. Usage: node lookups.mjs <spec.json>;
// spec.json is {"files": ["..."], "column": "id", "select": ["title"],
// "values": ["..."], "rounds": 3}; prints one JSON report per file.
import { readFileSync } from 'node:fs'
import { parquetMetadata, parquetReadObjects, parquetSchema, readColumnIndex, readOffsetIndex } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const enc = new TextEncoder()
function cmpBytes(a, b) {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
  return a.length - b.length
}

const reports = []
for (const path of spec.files) {
  const buf = readFileSync(path)
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const metadata = parquetMetadata(file)
  const element = parquetSchema(metadata).children.find(c => c.element.name === spec.column).element
  const truth = new Map()
  for (const r of await parquetReadObjects({ file, metadata, compressors, columns: [spec.column] })) {
    truth.set(r[spec.column], (truth.get(r[spec.column]) ?? 0) + 1)
  }
  // The rows the page index keeps per value, computed from the indexes as a
  // pruning reader does.
  const pages = []
  let start = 0
  for (const g of metadata.row_groups) {
    const c = g.columns.find(x => x.meta_data.path_in_schema.join('.') === spec.column)
    const rows = Number(g.num_rows)
    if (c.column_index_length) {
      const ci = readColumnIndex({ view: new DataView(file, Number(c.column_index_offset), c.column_index_length), offset: 0 }, element, { stringFromBytes: b => b })
      const oi = readOffsetIndex({ view: new DataView(file, Number(c.offset_index_offset), c.offset_index_length), offset: 0 })
      oi.page_locations.forEach((loc, i) => {
        const end = i + 1 < oi.page_locations.length ? Number(oi.page_locations[i + 1].first_row_index) : rows
        pages.push({ rows: end - Number(loc.first_row_index), nullPage: ci.null_pages[i], min: ci.min_values[i], max: ci.max_values[i] })
      })
    } else {
      pages.push({ rows, all: true })
    }
    start += rows
  }
  const report = { path, rows: Number(metadata.num_rows), pages: pages.length, lookups: 0, lost: 0, keptRows: 0, msIndex: 0, msScan: 0 }
  for (let round = 0; round < (spec.rounds ?? 1); round++) {
    for (const v of spec.values) {
      const want = truth.get(v) ?? 0
      const vb = enc.encode(v)
      for (const p of pages) {
        if (p.all || !p.nullPage && cmpBytes(vb, p.min) >= 0 && cmpBytes(vb, p.max) <= 0) report.keptRows += p.rows
      }
      let t0 = performance.now()
      const columns = [spec.column, ...(spec.select ?? [])]
      const a = await parquetReadObjects({ file, metadata, compressors, columns, filter: { [spec.column]: { $eq: v } }, usePageIndex: true })
      report.msIndex += performance.now() - t0
      t0 = performance.now()
      const b = await parquetReadObjects({ file, metadata, compressors, columns, filter: { [spec.column]: { $eq: v } } })
      report.msScan += performance.now() - t0
      report.lookups++
      if (a.length !== want || b.length !== want) report.lost++
    }
  }
  report.msIndex /= report.lookups
  report.msScan /= report.lookups
  report.keptRows /= report.lookups
  reports.push(report)
}
process.stdout.write(JSON.stringify(reports))

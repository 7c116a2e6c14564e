// Starts dynalite, the DynamoDB stand-in of hublake's local stack:
//   NODE_PATH=.tools/node_modules node scripts/dynalite.js --host 127.0.0.1 --port 4569
// Dynalite rethrows a request's 'error' event, so a client that disappears
// mid-request (the crash tests kill workers with SIGKILL) takes the whole
// server down. An aborted request is the client's fault, not the server's:
// it is logged and ignored here; any other uncaught error still ends the
// process.
'use strict'
const argv = require('minimist')(process.argv.slice(2))

process.on('uncaughtException', (err) => {
  if (err && (err.message === 'aborted' || err.code === 'ECONNRESET')) {
    console.error('dynalite: client went away mid-request (%s); ignored', err.message)
    return
  }
  console.error(err)
  process.exit(1)
})

const server = require('dynalite')({
  createTableMs: Number(argv.createTableMs || 0),
  deleteTableMs: Number(argv.deleteTableMs || 0),
  updateTableMs: Number(argv.updateTableMs || 0),
})
server.listen(Number(argv.port || 4569), argv.host || '127.0.0.1', () => {
  const a = server.address()
  console.log('Dynalite listening at: http://%s:%d', a.address, a.port)
})

/**
 * The ceiling for any Node receiver: node:http reads the body and answers an empty 200,
 * writing nothing anywhere.
 */
import { createServer } from 'node:http'
import { listenAndAnnounce } from './ready.js'

const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'Content-Length': '0' })
    res.end()
  })
})
listenAndAnnounce(server, 'bare')

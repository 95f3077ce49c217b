// The benchmark's floor: a bare Express app that parses the hook request body with the same JSON parser
// and limit as the service and answers {"cards": []}. Run as its own process, like the service.
import express from 'express';

const port = Number(process.env.PORT ?? 3900);
const host = process.env.HOST ?? '127.0.0.1';
const limit = process.env.CDS_BODY_LIMIT ?? '64mb';

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/cds-services', (_req, res) => {
  res.json({ services: [] });
});
app.post('/cds-services/:id', express.json({ limit, type: ['application/json', 'application/*+json'], strict: true }), (_req, res) => {
  res.json({ cards: [] });
});

const server = app.listen(port, host);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

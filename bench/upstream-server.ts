// A loopback OpenAI-compatible upstream for the benchmark, in its own process; prints its base URL.
import { FakeUpstream } from '../test/support/upstream';

const upstream = new FakeUpstream();
upstream.start().then(() => process.stdout.write(`${upstream.baseUrl}\n`));
process.on('SIGTERM', () => upstream.stop().then(() => process.exit(0)));

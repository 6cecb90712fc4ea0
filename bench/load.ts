/**
 * One autocannon run in a child process: options as JSON in argv[2], the result as JSON on stdout. The bench runs
 * the load generator here, not in its own process, so that it does not share an event loop with the gateway it
 * measures (the offline stack runs in the bench's process).
 */
import autocannon from 'autocannon';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options;
  const result = await autocannon(options);
  process.stdout.write(JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

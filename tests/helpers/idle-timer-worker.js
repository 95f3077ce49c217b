// Test-only evaluation thread entry: answers at once and leaves a timer behind that reports on a BroadcastChannel,
// so a test can see whether the thread's event loop runs between calls (it does not while piscina blocks the thread
// in Atomics.wait).
const { BroadcastChannel } = require('node:worker_threads');

module.exports = async function idleTimer(task) {
  task.started.postMessage('started');
  task.started.close();
  setTimeout(() => {
    const channel = new BroadcastChannel('iph-idle-timer');
    channel.postMessage('fired');
    channel.close();
  }, 20);
  return { status: 200, cards: [] };
};

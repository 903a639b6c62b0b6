/**
 * Child process for the "locked store" test: opens the results store given as argv[2], starts a write
 * transaction (BEGIN IMMEDIATE), inserts a run in it, prints "locked" and holds the lock until it is killed
 * (its transaction then never commits).
 *
 * The interval below must reference the store: a better-sqlite3 Database that nothing references is closed when it
 * is garbage-collected, which rolls the transaction back and releases the lock (that made the test flaky in CI).
 */
import { openStore } from "../../src/results/store";

const store = openStore(process.argv[2]);
store.db.exec("BEGIN IMMEDIATE");
store.db
  .prepare("INSERT INTO runs (id, task, dataset, profile, model_name, family, model_json, train_json, params, backend, status) VALUES (?, 'scratch', 'minicifar', 'test', 'm', 'resnet', '{}', '{}', 1, 'cpu', 'running')")
  .run("child/uncommitted");
process.stdout.write("locked\n");
setInterval(() => {
  if (!store.db.open) process.exit(3);
}, 1000);

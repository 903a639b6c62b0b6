/** Jupyter notebooks from Node: nbformat I/O, a ZeroMQ client for the tslab kernel, parameters, execution. */
export { runNotebook, NotebookCellError, type RunNotebookOptions, type RunNotebookResult } from "./run";
export {
  readNotebook,
  parseNotebook,
  writeNotebook,
  serializeNotebook,
  joinSource,
  splitLines,
  type Notebook,
  type Cell,
  type CodeCell,
  type Output,
  type MimeBundle,
} from "./nbformat";
export { KernelClient, KernelDiedError, CellTimeoutError, type ExecuteResult, type KernelStartOptions } from "./kernel";
export { OutputCollector } from "./outputs";
export { injectParameters, parametersSource, parseDeclarations, toTsLiteral, PARAMETERS_TAG, INJECTED_TAG } from "./parameters";
export { kernelNameOf, resolveTslab, SUPPORTED_KERNELS } from "./resolve";
export { notebookDependencies, notebookCacheKey, staleReason, runNotebooks, relativeImports, type CacheKey, type NotebookOutcome, type RunNotebooksOptions } from "./cache";

export { buildReport, DEFAULT_TITLE } from "./build";
export type { BuildReportOptions, BuildReportResult } from "./build";
export { buildSlides } from "./slides";
export type { SlidesOptions } from "./slides";
export {
  readNotebook,
  notebookTitle,
  renderMarkdown,
  renderBundle,
  renderOutput,
  renderNotebookCells,
  renderNotebookFile,
  MIME_ORDER,
} from "./notebook";
export type { Notebook, NotebookCell, NotebookOutput, RenderedNotebook } from "./notebook";
export { htmlToPdf, chromiumPath, DEFAULT_CHROMIUM, CHROMIUM_ARGS, CHROMIUM_INSTALL_HINT } from "./pdf";
export type { PdfResult } from "./pdf";
export {
  renderTemplate,
  fillTemplate,
  checkTemplate,
  placeholdersOf,
  readTemplateFile,
  TEMPLATE_CONTRACTS,
  DEFAULT_TEMPLATES_DIR,
} from "./template";
export type { TemplateContract } from "./template";
export { conclusions, paretoFront, sweepSummary, chosenScratchRun, bestRun, finalValAccuracy } from "./analysis";
export { escapeHtml, stripAnsi, inlineSvg, slugify } from "./html";
export { formatParams, formatPercent, formatDuration, formatRate } from "./format";

/**
 * Shared Vega-Lite config: fonts and sizes chosen to stay readable when a chart is
 * shown at slide size (about 1000 px wide on a 1280×720 slide).
 */
import type { Config } from "vega-lite";

export const CHART_FONT = "Helvetica Neue, Helvetica, Arial, Liberation Sans, sans-serif";

/** Colours for the two data sources of the accuracy-vs-parameters chart. */
export const SOURCE_COLORS = {
  reference: "#4c78a8",
  ours: "#e4572e",
} as const;

/** Colours for the transfer-learning tasks. */
export const TASK_COLORS: Record<string, string> = {
  scratch: "#8c8c8c",
  probe: "#4c78a8",
  finetune: "#e4572e",
};

export const CHART_CONFIG: Config = {
  font: CHART_FONT,
  background: "white",
  padding: 8,
  view: { stroke: "#dddddd" },
  title: { fontSize: 20, subtitleFontSize: 14, subtitleColor: "#555555", anchor: "start", offset: 12 },
  axis: {
    labelFontSize: 14,
    titleFontSize: 16,
    titleFontWeight: "normal",
    titlePadding: 10,
    gridColor: "#e6e6e6",
    domainColor: "#888888",
    tickColor: "#888888",
  },
  legend: { labelFontSize: 14, titleFontSize: 15, symbolSize: 140, orient: "bottom", titleFontWeight: "normal" },
  header: { labelFontSize: 15, titleFontSize: 16 },
  text: { fontSize: 13 },
};

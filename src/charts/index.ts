export {
  accuracyVsParamsSpec,
  trainingCurvesSpec,
  tradeoffSpec,
  tradeoffPanelsSpec,
  TRADEOFF_AXES,
  transferSpec,
  transferRows,
  bestPerModelName,
  runLabels,
  REFERENCE_LABEL,
  ACCURACY_SUBTITLE,
  OURS_LABEL,
  TRANSFER_TASKS,
  TRANSFER_TASK_TITLES,
} from "./specs";
export type { AccuracyVsParamsOptions, AccuracyPoint, TradeoffAxis } from "./specs";
export { renderSvg } from "./render";
export { displayChart, chartBundle, sendDisplayBundle, inNotebook, VEGALITE_MIME } from "./display";
export { LiveTraining, liveProgress } from "./live";
export type { MimeBundle } from "./display";
export { CHART_CONFIG, CHART_FONT, SOURCE_COLORS, TASK_COLORS } from "./theme";
export { KUANGLIU, KUANGLIU_SOURCE } from "../results/kuangliu";
export type { ReferenceModel } from "../results/kuangliu";

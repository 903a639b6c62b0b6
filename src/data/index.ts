/** Public API of the data layer: readers, MINICIFAR, CIFAR-100 filter, RandomState, cache, batches. */
export * from "./types";
export { RandomState, deriveSeed } from "./random-state";
export { readCifar10Binary, readCifar10BinaryDir, cifar10BinaryFiles, readCifar100Binary, readCifar100BinaryDir, readLabelNames, planarToHwc, hwcToPlanar } from "./cifar-binary";
export { readImageFolder, readClassFolder, listImageFiles, listClassFolders, decodeImageInto } from "./folders";
export type { ImageFolderOptions } from "./folders";
export { cacheDir, cacheStats, resetCacheStats, cachedImages } from "./cache";
export type { CacheOptions, CacheStats } from "./cache";
export { dataRoots, locateCifar10, locateCifar100, extractedArchive, CIFAR_URL } from "./locate";
export type { LocateOptions, DataSource } from "./locate";
export { readTarFile, parseTar, extractTar } from "./tar";
export { loadCifar10, loadCifar10ByClass, resolveCifar10Classes } from "./cifar10";
export type { Cifar10Options } from "./cifar10";
export { minicifarIndices, minicifarJson, parseMinicifarArgs, loadMinicifar, MINICIFAR_DEFAULTS } from "./minicifar";
export type { MinicifarOptions, MinicifarIndices, LoadMinicifarOptions, Minicifar } from "./minicifar";
export { loadCifar100, loadCifar100Filtered, filterCifar100, DEFAULT_EXCLUDED_SUPERCLASSES } from "./cifar100";
export type { Cifar100FilterOptions } from "./cifar100";
export {
  batches,
  batchCount,
  toTensor,
  normalize,
  normalizationTable,
  augmentInto,
  epochOrder,
  CIFAR_MEAN,
  CIFAR_STD,
  KUANGLIU_NORMALIZATION,
} from "./batches";
export type { Batch, BatchOptions, AugmentOptions, Normalization } from "./batches";
export { parseTransforms, transformName, drawPlacement, applyHole, TRANSFORM_HELP } from "./transforms";
export type { Transform, Placement } from "./transforms";

/**
 * The JSON form of Grafana's own dashboard types (@grafana/schema, pinned in package.json),
 * which the generated dashboards must satisfy (check.sh compiles them with tsc --strict).
 *
 * Four widenings, each to a type Grafana itself uses or used for what it stores:
 * - `JsonOf<T>`: a string enum (`ThresholdsMode.Absolute`) is stored as its value
 *   (`"absolute"`), which a JSON file can only spell as a string.
 * - `IntervalVariableFields`: `auto`, `auto_count`, `auto_min` are interval-variable fields
 *   (`IntervalVariableModel` in @grafana/data) that the Foundation SDK writes on every
 *   variable and the schema's `VariableModel` does not list.
 * - `InfluxQuery`: panel and annotation targets are InfluxDB queries, typed as Grafana's
 *   InfluxDB plugin types them (public/app/plugins/datasource/influxdb/types.ts), which
 *   @grafana/schema does not ship.
 * - `LegacyTableFooter`: the table panel's `options.footer` as @grafana/schema 12.1 types it.
 *   The SDK's panel types come from an older kind registry than its dashboard type and write
 *   it on every table; 12.3 moved footers into the field config and migrates the old key.
 * Everything else is Grafana's type unchanged: unknown keys are errors.
 */
import type { AnnotationQuery, DataQuery, Dashboard, Panel, VariableModel } from '@grafana/schema';
import type { Options as StatOptions } from '@grafana/schema/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type {
  FieldConfig as StateTimelineFieldConfig,
  Options as StateTimelineOptions,
} from '@grafana/schema/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type {
  FieldConfig as TableFieldConfig,
  Options as TableOptions,
} from '@grafana/schema/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** `T` as JSON spells it: string enums become the union of their values. */
export type JsonOf<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<JsonOf<U>>
      : T extends object
        ? { [K in keyof T]: JsonOf<T[K]> }
        : T;

/** Mirrors `InfluxQuery` of Grafana's InfluxDB datasource plugin. */
export interface InfluxQuery extends DataQuery {
  policy?: string;
  measurement?: string;
  resultFormat?: 'time_series' | 'table' | 'logs';
  orderByTime?: string;
  tags?: Array<{ key: string; operator?: string; condition?: string; value: string }>;
  groupBy?: Array<{ type: string; params?: Array<string | number>; interval?: string }>;
  select?: Array<Array<{ type: string; params?: Array<string | number>; interval?: string }>>;
  limit?: string | number;
  slimit?: string | number;
  tz?: string;
  fill?: string;
  rawQuery?: boolean;
  query?: string;
  alias?: string;
  fromAnnotations?: boolean;
  tagsColumn?: string;
  textColumn?: string;
  timeEndColumn?: string;
  titleColumn?: string;
  name?: string;
  textEditor?: boolean;
  adhocFilters?: Array<{ key: string; operator: string; value: string }>;
}

/** Interval-variable fields (`IntervalVariableModel` in @grafana/data). */
export interface IntervalVariableFields {
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
}

export type DashboardJson = JsonOf<
  Omit<Dashboard, 'templating' | 'annotations'> & {
    templating?: { list?: Array<VariableModel & IntervalVariableFields> };
    annotations?: { list?: Array<AnnotationQuery<InfluxQuery>> };
  }
>;

/** The table panel's footer before 12.2 (`TableFooterOptions` in @grafana/schema 12.1). */
export interface LegacyTableFooter {
  countRows?: boolean;
  enablePagination?: boolean;
  fields?: string[];
  reducer: string[];
  show: boolean;
}

/** A panel whose `options` and `fieldConfig.defaults.custom` are its plugin's own types. */
type TypedPanel<Options, FieldConfig> = JsonOf<
  Omit<Panel<Options, FieldConfig>, 'options' | 'targets'> & {
    options?: Options;
    targets?: InfluxQuery[];
  }
>;

export interface PanelTypes {
  stat: TypedPanel<StatOptions, Record<string, unknown>>;
  'state-timeline': TypedPanel<StateTimelineOptions, StateTimelineFieldConfig>;
  table: TypedPanel<TableOptions & { footer?: LegacyTableFooter }, TableFieldConfig>;
  timeseries: TypedPanel<TimeSeriesOptions, TimeSeriesFieldConfig>;
}

export type InfluxQueryJson = JsonOf<InfluxQuery>;

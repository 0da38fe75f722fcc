// parquetjs-lite ships no type declarations; these cover what the offline store uses.
declare module 'parquetjs-lite' {
  import type { Writable } from 'node:stream';
  export interface FieldDefinition {
    type?: string;
    optional?: boolean;
    repeated?: boolean;
    compression?: 'UNCOMPRESSED' | 'GZIP' | 'SNAPPY';
    fields?: Record<string, FieldDefinition>;
  }
  export class ParquetSchema {
    constructor(fields: Record<string, FieldDefinition>);
    readonly fieldList: readonly { readonly name: string; readonly path: readonly string[] }[];
  }
  export class ParquetWriter {
    static openStream(schema: ParquetSchema, stream: Writable, options?: { rowGroupSize?: number }): Promise<ParquetWriter>;
    appendRow(row: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
  }
  export interface ParquetCursor {
    next(): Promise<Record<string, unknown> | null>;
  }
  export class ParquetReader {
    static openBuffer(buffer: Buffer): Promise<ParquetReader>;
    readonly schema: ParquetSchema;
    getCursor(columns?: readonly (string | readonly string[])[]): ParquetCursor;
    getRowCount(): number | bigint;
    close(): Promise<void>;
  }
  const parquet: { ParquetSchema: typeof ParquetSchema; ParquetWriter: typeof ParquetWriter; ParquetReader: typeof ParquetReader };
  export default parquet;
}

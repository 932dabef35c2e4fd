export declare const ROOT: string;
export declare function sourceHash(dir?: string): string;
export declare function distIsFresh(root?: string): boolean;

/** Builds dist/ from src/; resolves with the number of files compiled. */
export declare function buildDist(): Promise<number>;

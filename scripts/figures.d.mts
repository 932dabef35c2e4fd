export const FIGURES_FILE: string;
export function figuresTable(jsonl: string): string;

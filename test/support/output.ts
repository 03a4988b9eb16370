/**
 * Captures what in-process CLI runs (runCli) write to stdout and stderr, fresh for each test: call in a describe
 * block; read `output.out` / `output.err`, clear with `output.clear()`.
 */
export function captureOutput(): { readonly out: string; readonly err: string; clear(): void } {
  const state = { out: '', err: '' };
  beforeEach(() => {
    state.out = '';
    state.err = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((state.out += String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((state.err += String(s)), true));
  });
  afterEach(() => jest.restoreAllMocks());
  return {
    get out() {
      return state.out;
    },
    get err() {
      return state.err;
    },
    clear() {
      state.out = '';
      state.err = '';
    },
  };
}

/**
 * An error a module's own code threw, already logged with the module's name; the session or
 * router turns it into internal-server-error without logging it again.
 */
export class ModuleFault extends Error {
  constructor(
    readonly module: string,
    cause: unknown,
  ) {
    super(`module ${module} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "ModuleFault";
  }
}

export function isModuleFault(err: unknown): err is ModuleFault {
  return err instanceof Error && err.name === "ModuleFault";
}

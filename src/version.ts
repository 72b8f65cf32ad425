/** The version of this fossora build. */
export const VERSION = "0.1.0";

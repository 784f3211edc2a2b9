/** Remove credentials from a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

/** Mask anything that looks like a Myelin token in a log message. */
export function redactSecrets(text: string): string {
  return text.replace(/myl_[A-Za-z0-9_-]{10,}/g, 'myl_***');
}

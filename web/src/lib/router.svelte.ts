// A tiny history router: the path is state; links call `navigate`.

class Router {
  path = $state(globalThis.location?.pathname ?? '/');

  constructor() {
    globalThis.addEventListener?.('popstate', () => {
      this.path = location.pathname;
    });
  }

  navigate(to: string, replace = false): void {
    if (to === this.path) return;
    if (replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
    this.path = to;
  }
}

export const router = new Router();

/** Click handler for in-app links: plain left clicks navigate without a reload. */
export function link(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = (event.currentTarget as HTMLElement).closest('a');
  const href = a?.getAttribute('href');
  if (!href || !href.startsWith('/') || a?.target === '_blank') return;
  event.preventDefault();
  router.navigate(href);
}

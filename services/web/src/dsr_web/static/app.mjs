// Enhancements only: every page works without JavaScript.
import { initAll } from '/assets/nhsuk-frontend.min.js'

document.body.classList.add('js-enabled')
if ('noModule' in HTMLScriptElement.prototype) {
  document.body.classList.add('nhsuk-frontend-supported')
}
initAll()

for (const button of document.querySelectorAll('.dsr-print-button')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}

"""Driving a page with the keyboard alone: Tab to an element (failing if Tab
never reaches it), type, Space and Enter; never a mouse click."""

from __future__ import annotations

TAB_LIMIT = 400


async def focus(page, selector: str) -> None:
    """Tab forward (round the page if need be) until `selector` has the focus."""
    for _ in range(TAB_LIMIT):
        if await page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    problem = page.locator(".nhsuk-error-summary")
    said = await problem.inner_text() if await problem.count() else ""
    raise AssertionError(f"the keyboard never reaches {selector} on {page.url} {said}")


async def type_into(page, selector: str, text: str) -> None:
    await focus(page, selector)
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type(text)


async def choose(page, name: str, value: str) -> None:
    """A radio in a group: Tab into the group, then arrow keys until `value` is checked."""
    await focus(page, f"input[type=radio][name='{name}']")
    for _ in range(10):
        if await page.evaluate("s => document.activeElement.value === s", value):
            await page.keyboard.press("Space")
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"no radio {value} in {name}")


async def tick(page, selector: str) -> None:
    await focus(page, selector)
    if not await page.evaluate("() => document.activeElement.checked"):
        await page.keyboard.press("Space")


async def activate(page, selector: str) -> None:
    """Enter on a link or button, and wait for the page it leads to."""
    await focus(page, selector)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def fill_date(page, prefix: str, day: int, month: int, year: int) -> None:
    await type_into(page, f"#{prefix}-day", str(day))
    await type_into(page, f"#{prefix}-month", str(month))
    await type_into(page, f"#{prefix}-year", str(year))

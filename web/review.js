// takedown console, the review views (docs/console.md): the queues, the case pane and QA.
'use strict';

(function () {
  const TD = window.TD;
  const REVIEW_ROLES = ['moderator', 'admin', 'auditor'];

  TD.registerView({
    id: 'review',
    title: 'Review',
    roles: REVIEW_ROLES,
    order: 10,
    render(section) {
      TD.clearView(section);
      section.append(TD.el('p', { class: 'hint' }, 'The review queues.'));
    },
    leave() {},
  });
})();

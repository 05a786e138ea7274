"""The automations file of issue #16, which must work as written (core and e2e tests)."""

EXAMPLE = """\
- name: out of hours
  when: new_episode
  if: {outside_business_hours: true}
  then: [{send_template: after_hours}]
- name: billing to Pavel
  when: new_dialog
  if: {text_matches: "(?i)счёт|invoice|оплат"}
  then: [{tag: billing}, {assign: "@pavel"}]
- name: everyone else, fairly
  when: new_dialog
  then: [{assign: {round_robin: on_duty, max_open: 15}}]
- name: nudge
  when: {waiting_for_operator: 30m}
  then: [{comment: "⏰ 30 minutes without an answer"}, {notify: managers}]
"""

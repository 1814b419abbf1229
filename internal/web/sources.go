package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/service"
)

// The feed-source pages follow the seed's words: Feed Sources, Add
// Instance, Manage Feed Channels, View Details, Working Status, Test
// Connectivity.

func (s *Server) routes() []route {
	return []route{
		{"GET /sources", auth.ViewFeedSource, s.sources},
		{"GET /sources/new", auth.CreateFeedSource, s.newSource},
		{"POST /sources", auth.CreateFeedSource, s.createSource},
		{"GET /sources/{instance}", auth.ViewFeedSource, s.source},
		{"GET /sources/{instance}/edit", auth.UpdateFeedSource, s.editSource},
		{"POST /sources/{instance}/edit", auth.UpdateFeedSource, s.updateSource},
		{"GET /sources/{instance}/migrate", auth.UpdateFeedSource, s.migratePage},
		{"POST /sources/{instance}/migrate", auth.UpdateFeedSource, s.migrate},
		{"GET /sources/{instance}/remove", auth.UpdateFeedSource, s.removePage},
		{"POST /sources/{instance}/remove", auth.UpdateFeedSource, s.remove},
		{"GET /sources/{instance}/channels/{kind}", auth.ViewFeedSource, s.channel},
		{"GET /sources/{instance}/channels/{kind}/settings", auth.UpdateFeedSource, s.channelSettings},
		{"POST /sources/{instance}/channels/{kind}/settings", auth.UpdateFeedSource, s.saveChannel},
		{"POST /sources/{instance}/channels/{kind}/toggle", auth.UpdateFeedSource, s.toggleChannel},
		{"POST /sources/{instance}/channels/{kind}/test", auth.UpdateFeedSource, s.testChannel},
		{"POST /sources/{instance}/channels/{kind}/poll", auth.UpdateFeedSource, s.pollChannel},
		{"GET /sources/{instance}/channels/{kind}/chart.svg", auth.ViewFeedSource, s.channelChart},
	}
}

func (s *Server) sources(w http.ResponseWriter, r *http.Request, v *visit) error {
	ins, err := s.Service.Instances(r.Context(), v.P)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "sources", v, "Feed Sources", map[string]any{"Instances": ins})
	return nil
}

// form is a form's values and its errors by field, for a page that shows
// a refused form again beside its inputs.
type form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // an error of no one field
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// refuse records err's field errors (or its message) on the form.
func (f *form) refuse(err error) {
	if fields := intel.Fields(err); len(fields) > 0 {
		for _, fe := range fields {
			if f.Errors[fe.Field] == "" {
				f.Errors[fe.Field] = fe.Message
			} else {
				f.Errors[fe.Field] += "; " + fe.Message
			}
		}
		return
	}
	f.Error = intel.ErrorMessage(err)
}

// refusable reports whether err is the user's to mend on the form.
func refusable(err error) bool {
	switch intel.ErrorCode(err) {
	case intel.EINVALID, intel.ECONFLICT:
		return true
	}
	return false
}

func (s *Server) newSource(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm()
	f.Values["base_url"], f.Values["verify_tls"] = "https://api.flashpoint.io", "on"
	s.render(w, r, http.StatusOK, "source_new", v, "Add Instance", f)
	return nil
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm()
	for _, k := range []string{"name", "base_url", "verify_tls"} {
		f.Values[k] = r.PostFormValue(k)
	}
	name, base, token, verify := f.Values["name"], f.Values["base_url"], r.PostFormValue("token"), f.Values["verify_tls"] == "on"
	view, err := s.Service.CreateInstance(r.Context(), v.P, service.InstanceInput{Name: &name, BaseURL: &base, Token: &token, VerifyTLS: &verify})
	if err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err) // the token is never sent back into the form
		s.render(w, r, http.StatusUnprocessableEntity, "source_new", v, "Add Instance", f)
		return nil
	}
	http.Redirect(w, r, "/sources/"+url.PathEscape(view.Name), http.StatusSeeOther)
	return nil
}

func (s *Server) source(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "source", v, in.Name, map[string]any{"Instance": in, "NoVerifyWarning": feed.NoVerifyTLSWarning})
	return nil
}

func (s *Server) editSource(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["name"], f.Values["base_url"] = in.Name, in.BaseURL
	if in.VerifyTLS {
		f.Values["verify_tls"] = "on"
	}
	s.render(w, r, http.StatusOK, "source_edit", v, "Edit "+in.Name, map[string]any{"Instance": in, "Form": f})
	return nil
}

func (s *Server) updateSource(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	f := newForm()
	for _, k := range []string{"name", "base_url", "verify_tls"} {
		f.Values[k] = r.PostFormValue(k)
	}
	name, base, verify := f.Values["name"], f.Values["base_url"], f.Values["verify_tls"] == "on"
	q := service.InstanceInput{Name: &name, BaseURL: &base, VerifyTLS: &verify}
	if tok := r.PostFormValue("token"); tok != "" { // blank keeps the stored token
		q.Token = &tok
	}
	view, err := s.Service.UpdateInstance(r.Context(), v.P, strconv.FormatInt(in.ID, 10), q)
	if err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err)
		s.render(w, r, http.StatusUnprocessableEntity, "source_edit", v, "Edit "+in.Name, map[string]any{"Instance": in, "Form": f})
		return nil
	}
	http.Redirect(w, r, "/sources/"+url.PathEscape(view.Name), http.StatusSeeOther)
	return nil
}

func (s *Server) migratePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "source_migrate", v, "Migrate "+in.Name, map[string]any{"Instance": in, "Form": newForm()})
	return nil
}

func (s *Server) migrate(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["base_url"] = r.PostFormValue("base_url")
	if _, err := s.Service.MigrateInstance(r.Context(), v.P, in.Name, f.Values["base_url"], r.PostFormValue("token")); err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err)
		s.render(w, r, http.StatusUnprocessableEntity, "source_migrate", v, "Migrate "+in.Name, map[string]any{"Instance": in, "Form": f})
		return nil
	}
	http.Redirect(w, r, "/sources/"+url.PathEscape(in.Name), http.StatusSeeOther)
	return nil
}

func (s *Server) removePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, err := s.Service.Instance(r.Context(), v.P, r.PathValue("instance"))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "source_remove", v, "Remove "+in.Name, map[string]any{"Instance": in})
	return nil
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, v *visit) error {
	if _, err := s.Service.RemoveInstance(r.Context(), v.P, r.PathValue("instance")); err != nil {
		return err
	}
	http.Redirect(w, r, "/sources", http.StatusSeeOther)
	return nil
}

func channelRef(r *http.Request) service.ChannelRef {
	return service.ChannelRef{Instance: r.PathValue("instance"), Kind: r.PathValue("kind")}
}

func channelURL(ch feed.Channel) string {
	return "/sources/" + url.PathEscape(ch.Instance) + "/channels/" + string(ch.Kind)
}

// historyLen is how many polls a channel's page lists.
const historyLen = 50

func (s *Server) channel(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := s.Service.Channel(r.Context(), v.P, channelRef(r))
	if err != nil {
		return err
	}
	runs, err := s.Service.Runs(r.Context(), v.P, channelRef(r), historyLen)
	if err != nil {
		return err
	}
	running := len(runs) > 0 && runs[0].Ended.IsZero()
	s.render(w, r, http.StatusOK, "channel", v, ch.Instance+" · "+ch.Kind.Title(), map[string]any{
		"Channel": ch, "Runs": runs, "Running": running, "URL": channelURL(ch), "Next": s.nextRun(ch, runs),
		"Tested": r.URL.Query().Get("tested"), "Busy": r.URL.Query().Get("started") == "busy",
	})
	return nil
}

// nextRun is when a channel's next scheduled poll is due ("" : none).
func (s *Server) nextRun(ch feed.Channel, runs []feed.PollRun) string {
	if !ch.Settings.Enabled || ch.Settings.Schedule != feed.Auto {
		return ""
	}
	if len(runs) == 0 || runs[0].Ended.IsZero() {
		return "after the running poll"
	}
	return runs[0].Ended.Add(time.Duration(ch.Settings.IntervalMinutes) * time.Minute).UTC().Format("2006-01-02 15:04 UTC")
}

func (s *Server) channelSettings(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := s.Service.Channel(r.Context(), v.P, channelRef(r))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "channel_settings", v, "Settings · "+ch.Instance+" · "+ch.Kind.Title(), settingsData(ch, settingsForm(ch.Settings), nil))
	return nil
}

func settingsData(ch feed.Channel, f *form, warnings []string) map[string]any {
	return map[string]any{"Channel": ch, "Form": f, "URL": channelURL(ch), "Warnings": warnings,
		"TLPs": []string{"none", "clear", "green", "amber", "amber+strict", "red"}, "Min": feed.MinInterval, "Max": feed.MaxInterval,
		"Default": feed.DefaultInterval, "Advised": feed.ReportsMinAdvised, "Reports": ch.Kind == feed.Reports}
}

// settingsForm writes settings as form values.
func settingsForm(st feed.Settings) *form {
	f := newForm()
	f.Values["start_at"] = st.StartAt.UTC().Format("2006-01-02T15:04")
	f.Values["collection"] = st.Collection
	f.Values["schedule"] = string(st.Schedule)
	f.Values["interval_minutes"] = strconv.Itoa(st.IntervalMinutes)
	f.Values["tlp"] = string(st.TLP)
	if st.TLP == "" {
		f.Values["tlp"] = "none"
	}
	f.Values["confidence"] = strconv.Itoa(st.Confidence)
	f.Values["deprecate_after_days"] = strconv.Itoa(st.DeprecateAfterDays)
	if st.Relevance != nil {
		f.Values["relevance"] = strconv.Itoa(*st.Relevance)
	}
	if st.Severity != nil {
		f.Values["severity"] = strconv.Itoa(*st.Severity)
	}
	f.Values["tags"] = strings.Join(st.Tags, ", ")
	if st.Enabled {
		f.Values["enabled"] = "on"
	}
	return f
}

// applyForm reads a settings form onto st; a value that does not parse is
// a field error and leaves its setting as it was (the channel's
// validation judges the rest: one place decides what is valid).
func applyForm(f *form, st *feed.Settings) error {
	var bad []intel.FieldError
	num := func(field string, set func(int)) {
		v := strings.TrimSpace(f.Values[field])
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, intel.FieldError{Field: field, Message: fmt.Sprintf("%q is not a whole number", v)})
			return
		}
		set(n)
	}
	optional := func(field string, set func(*int)) {
		if strings.TrimSpace(f.Values[field]) == "" {
			set(nil)
			return
		}
		num(field, func(n int) { set(&n) })
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", strings.TrimSpace(f.Values["start_at"]), time.UTC); err != nil {
		bad = append(bad, intel.FieldError{Field: "start_at", Message: fmt.Sprintf("%q is not a date and time (YYYY-MM-DDTHH:MM, UTC)", f.Values["start_at"])})
	} else {
		st.StartAt = t
	}
	st.Collection = f.Values["collection"]
	st.Schedule = feed.Schedule(f.Values["schedule"])
	num("interval_minutes", func(n int) { st.IntervalMinutes = n })
	if tlp, err := intel.ParseTLP(f.Values["tlp"]); err != nil {
		bad = append(bad, intel.FieldError{Field: "tlp", Message: intel.ErrorMessage(err)})
	} else {
		st.TLP = tlp
	}
	num("confidence", func(n int) { st.Confidence = n })
	num("deprecate_after_days", func(n int) { st.DeprecateAfterDays = n })
	optional("relevance", func(n *int) { st.Relevance = n })
	optional("severity", func(n *int) { st.Severity = n })
	st.Tags = nil
	for _, t := range strings.Split(f.Values["tags"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			st.Tags = append(st.Tags, t)
		}
	}
	st.Enabled = f.Values["enabled"] == "on"
	return intel.Invalid(bad)
}

var settingFields = []string{"enabled", "start_at", "collection", "schedule", "interval_minutes", "tlp", "confidence",
	"deprecate_after_days", "relevance", "severity", "tags"}

func (s *Server) saveChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := s.Service.Channel(r.Context(), v.P, channelRef(r))
	if err != nil {
		return err
	}
	f := newForm()
	for _, k := range settingFields {
		f.Values[k] = r.PostFormValue(k)
	}
	res, err := s.Service.UpdateChannel(r.Context(), v.P, channelRef(r), service.ChannelEdit{
		Apply:  func(st *feed.Settings) error { return applyForm(f, st) },
		Enable: f.Values["enabled"] == "on",
	})
	if err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err)
		s.render(w, r, http.StatusUnprocessableEntity, "channel_settings", v, "Settings · "+ch.Instance+" · "+ch.Kind.Title(), settingsData(ch, f, nil))
		return nil
	}
	if len(res.Warnings) > 0 {
		s.render(w, r, http.StatusOK, "channel_settings", v, "Settings · "+ch.Instance+" · "+ch.Kind.Title(),
			settingsData(res.Channel, settingsForm(res.Settings), res.Warnings))
		return nil
	}
	http.Redirect(w, r, channelURL(res.Channel), http.StatusSeeOther)
	return nil
}

// toggleChannel turns a channel on or off, keeping its other settings.
func (s *Server) toggleChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	on := r.PostFormValue("enabled") == "on"
	res, err := s.Service.UpdateChannel(r.Context(), v.P, channelRef(r), service.ChannelEdit{
		Apply:  func(st *feed.Settings) error { st.Enabled = on; return nil },
		Enable: on,
	})
	if err != nil {
		if !refusable(err) {
			return err
		}
		// The stored settings do not pass today's checks (a start date
		// now past its window): the settings form says which.
		ch, cerr := s.Service.Channel(r.Context(), v.P, channelRef(r))
		if cerr != nil {
			return cerr
		}
		f := settingsForm(ch.Settings)
		f.Values["enabled"] = "on"
		f.refuse(err)
		s.render(w, r, http.StatusUnprocessableEntity, "channel_settings", v, "Settings · "+ch.Instance+" · "+ch.Kind.Title(), settingsData(ch, f, nil))
		return nil
	}
	back := r.PostFormValue("back")
	if back != "channel" {
		http.Redirect(w, r, "/sources/"+url.PathEscape(res.Instance), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, channelURL(res.Channel), http.StatusSeeOther)
	return nil
}

func (s *Server) testChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	res, err := s.Service.TestChannel(r.Context(), v.P, channelRef(r))
	if err != nil {
		return err
	}
	ch, err := s.Service.Channel(r.Context(), v.P, channelRef(r))
	if err != nil {
		return err
	}
	verdict := "ok"
	if !res.OK {
		verdict = "failed"
	}
	http.Redirect(w, r, channelURL(ch)+"?tested="+verdict, http.StatusSeeOther)
	return nil
}

func (s *Server) pollChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	started, err := s.Service.StartPoll(s.baseContext(), v.P, channelRef(r))
	switch {
	case errors.Is(err, scheduler.ErrBusy):
		ch, cerr := s.Service.Channel(r.Context(), v.P, channelRef(r))
		if cerr != nil {
			return cerr
		}
		http.Redirect(w, r, channelURL(ch)+"?started=busy", http.StatusSeeOther)
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, channelURL(started.Channel)+"?started=1", http.StatusSeeOther)
	return nil
}
